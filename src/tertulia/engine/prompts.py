"""Prompt assembly. Every prompt starts with the same persona system message for a given agent version (identity,
background, behaviors, communication patterns): the STABLE prefix, byte-identical across turns and calls, so providers
with prefix caching reuse it. Per-turn material (graph context, state, memory, transcript) follows."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import orjson

from tertulia.engine.contract import TranscriptMessage, TurnRequest
from tertulia.engine.ports import ChatMessage

TRANSCRIPT_WINDOW = 40


def persona_message(agent: dict[str, Any]) -> ChatMessage:
    try:  # the cache key: the agent version's canonical JSON (orjson: two persona messages a turn)
        key = orjson.dumps(agent, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # what orjson refuses (an integer beyond 64 bits)
        key = json.dumps(agent, sort_keys=True, default=str).encode()
    return ChatMessage("system", _persona_text(key))


@lru_cache(maxsize=256)
def _persona_text(agent_json: bytes) -> str:
    agent = json.loads(agent_json)  # a cache miss only; json keeps an integer beyond 64 bits (orjson reads a float)
    identity = agent.get("identity") or {}
    rel = identity.get("relationship_to_developer") or {}
    lines = [
        f"You are {identity.get('name') or 'the agent'}, {identity.get('role') or 'an assistant'}"
        + (f", developed by {identity['developed_by']}." if identity.get("developed_by") else "."),
    ]
    if identity.get("default_spoken_language"):
        lines.append(f"Default spoken language (ISO 639-3): {identity['default_spoken_language']}.")
    if rel:
        lines.append(
            "Your relationship to your developer: "
            + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(rel.items()) if v)
        )
    if agent.get("background"):
        lines += ["", "## Background", str(agent["background"])]
    if agent.get("behaviors"):
        lines += ["", "## Standing behaviors", *[f"- {b}" for b in agent["behaviors"]]]
    if agent.get("communication_patterns"):
        lines += ["", "## Communication patterns", *[f"- {c}" for c in agent["communication_patterns"]]]
    return "\n".join(lines)


def render_transcript(transcript: list[TranscriptMessage], window: int = TRANSCRIPT_WINDOW) -> str:
    out = []
    for m in transcript[-window:]:
        who = {
            "user-message": "User",
            "agent-message": "Agent",
            "agent-inner-thought": "Agent (inner thought)",
            "external-event": "External event",
        }.get(m.message_type, m.message_type)
        out.append(f"{who}: {m.text}")
    return "\n".join(out) or "(no messages yet)"


def chat_transcript(transcript: list[TranscriptMessage], window: int = TRANSCRIPT_WINDOW) -> list[ChatMessage]:
    """The transcript as chat turns (inner thoughts as assistant notes, external events as bracketed user turns)."""
    out: list[ChatMessage] = []
    for m in transcript[-window:]:
        if m.message_type == "user-message":
            out.append(ChatMessage("user", m.text))
        elif m.message_type == "agent-message":
            out.append(ChatMessage("assistant", m.text))
        elif m.message_type == "external-event":
            out.append(ChatMessage("user", f"[External event] {m.text}"))
        elif m.message_type == "agent-inner-thought":
            out.append(ChatMessage("assistant", f"(inner thought, not shown to the user) {m.text}"))
    return out


def bullet(title: str, items: list[str]) -> list[str]:
    return [f"## {title}", *[f"- {i}" for i in items]] if items else []


def closing_answer(tail: list[str], properties: dict[str, Any], answer: list[str], action_texts: list[str],
                   when: str, *, spaced: bool = False) -> tuple[list[str], dict[str, Any]]:
    """The shared end of a decision prompt and its schema: with more than one action, the actions to perform ``when``
    (e.g. "if you stay") and their ``action`` answer; then the "Answer in JSON" line over ``answer``; the schema
    closed over ``properties`` (every one required). ``spaced``: a blank line before the actions."""
    if len(action_texts) > 1:
        tail = [*tail, *([""] if spaced else []), *bullet(f"Actions ({when}, perform the one that fits now)",
                                                           action_texts)]
        properties = {**properties, "action": {"type": "string", "enum": action_texts}}
        answer = [*answer, f'"action": the action to perform {when}, copied exactly']
    tail = [*tail, "", "Answer in JSON: " + "; then ".join(answer) + "."]
    return tail, {"type": "object", "properties": properties, "required": list(properties),
                  "additionalProperties": False}


def match_option(text: str, options: list[str]) -> int | None:
    """The index of the option an answer names, leniently (spacing, case, quotes and a final period aside)."""
    low = " ".join(text.split()).strip().strip('"').rstrip(".").lower()
    for i, o in enumerate(options):
        if o.rstrip(".").lower() == low:
            return i
    return None


def state_context(state: dict[str, Any], graph_description: str | None) -> list[str]:
    lines = []
    if graph_description:
        lines += ["## Context graph", graph_description, ""]
    lines += [f"## Current state: {state.get('name')}", f"Objective: {state.get('objective', '')}"]
    lines += bullet("Navigation guidelines", state.get("intra_state_navigation_guidelines") or [])
    lines += bullet("Action guidelines", state.get("action_guidelines") or [])
    lines += bullet("Boundary constraints (never violate)", state.get("boundary_constraints") or [])
    return lines


def memory_context(working_memory: list[dict[str, str]], reflections: list[str], user_model: list[str]) -> list[str]:
    lines: list[str] = []
    lines += bullet("Working memory", [f"{m['content']} ({m['context']})" for m in working_memory])
    lines += bullet("Your reflections this turn", reflections)
    lines += bullet("What you know about the user", user_model)
    return lines


def engage_messages(
    agent: dict[str, Any],
    state: dict[str, Any],
    action: str,
    graph_description: str | None,
    working_memory: list[dict[str, str]],
    reflections: list[str],
    user_model: list[str],
    transcript: list[TranscriptMessage],
    extra_instructions: list[str],
    override_instructions: bool,
    tool_results: list[str] | None = None,
) -> list[ChatMessage]:
    task = list(state_context(state, graph_description))
    if override_instructions:
        task = [f"## Current state: {state.get('name')}"]
        task += bullet("Boundary constraints (never violate)", state.get("boundary_constraints") or [])
    task += ["", f"## What to do now\n{action}"]
    task += bullet("Instructions that apply right now" + (" (they override everything else)" if override_instructions else ""),
                   extra_instructions)
    task += memory_context(working_memory, reflections, user_model)
    task += bullet("Tool results (for this reply only)", list(tool_results or []))
    task += ["", "Write only your next message to the user, in your own voice. Do not describe these instructions."]
    messages = [persona_message(agent), ChatMessage("system", "\n".join(task)), *chat_transcript(transcript)]
    if len(messages) == 2 or messages[-1].role != "user":
        messages.append(ChatMessage("user", "[Continue the conversation now by performing the action above.]"))
    return messages


def decision_messages(agent: dict[str, Any], task_lines: list[str], transcript: list[TranscriptMessage]) -> list[ChatMessage]:
    body = "\n".join(task_lines) + "\n\n## Conversation so far\n" + render_transcript(transcript)
    return [persona_message(agent), ChatMessage("user", body)]


def latest_input(request: TurnRequest) -> str:
    """This turn's new user/external messages as one text ("" on an agent-first opening)."""
    new_ids = set(request.new_message_ids)
    parts = [m.text if m.message_type == "user-message" else f"[External event] {m.text}"
             for m in request.transcript if m.id in new_ids]
    return " ".join(p.strip() for p in parts if p.strip())


def framed_decision_messages(
    agent: dict[str, Any], task_lines: list[str], transcript: list[TranscriptMessage], tail_lines: list[str]
) -> list[ChatMessage]:
    """A decision prompt with the conversation in the middle and the choice last (``tail_lines``): small models
    attend most to what comes last, so the latest message and the options sit right before the answer."""
    body = "\n".join(task_lines) + "\n\n## Conversation so far\n" + render_transcript(transcript) + "\n\n"
    return [persona_message(agent), ChatMessage("user", body + "\n".join(tail_lines))]
