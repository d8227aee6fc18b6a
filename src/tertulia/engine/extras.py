"""Engine functions beside the turn: recommended user responses, conversation starters, and simulated turns.

All three persist nothing and use the same ports, model routing and stable persona prefix as ``run_turn``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from tertulia.engine.contract import GraphVersion, Ports, TranscriptMessage, TurnEvent, TurnRequest
from tertulia.engine.prompts import decision_messages
from tertulia.engine.routing import TurnLLM

DEFAULT_RECOMMEND_CONTEXT = (
    "PERSONA: A typical user of this service, cooperative and curious, answering naturally and briefly.\n"
    "SCENARIO: The user is continuing the conversation with the agent in good faith."
)


async def recommend_responses(
    agent: dict[str, Any],
    transcript: list[TranscriptMessage],
    ports: Ports,
    *,
    context: str | None = None,
    llm_model_preferences: dict[str, dict[str, Any]] | None = None,
    count: int = 3,
) -> list[str]:
    """Replies the USER could send next (``recommend-responses-for-interaction``)."""
    llm = TurnLLM(ports, llm_model_preferences)
    task = [
        "Suggest short, distinct messages that the USER (not the agent) could plausibly send next, in the user's "
        "voice and language, each replying to the agent's latest message.",
        f"## Who the user is and what they want\n{context or DEFAULT_RECOMMEND_CONTEXT}",
        f"Give exactly {count} suggestions.",
    ]
    schema = {
        "type": "object",
        "properties": {"recommended_responses": {"type": "array", "items": {"type": "string"},
                                                 "minItems": 1, "maxItems": count}},
        "required": ["recommended_responses"],
        "additionalProperties": False,
    }
    raw = await llm.decide(llm.request("RecommendResponses", decision_messages(agent, task, transcript)), schema,
                           "recommend_responses")
    out: list[str] = []
    for item in raw.get("recommended_responses") or []:
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out[:count]


async def conversation_starters(
    agent: dict[str, Any],
    graph: GraphVersion,
    ports: Ports,
    *,
    facets: list[str],
    min_count: int,
    max_count: int,
    generation_instructions: str = "",
    llm_model_preferences: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Opening prompts a user could start a conversation with: ``[{"prompt", "facets"}]`` (each ≥1 facet)."""
    llm = TurnLLM(ports, llm_model_preferences)
    task = [
        "Write opening messages a USER could send to start a conversation with this agent. Each must relate to "
        "one or more of the given facets and be something the service can help with.",
        f"## Service\n{graph.body.get('description') or ''}",
        "## Facets", *[f"- {f}" for f in facets],
        f"## Instructions\n{generation_instructions}" if generation_instructions else "",
        f"Write between {min_count} and {max_count} prompts.",
    ]
    schema = {
        "type": "object",
        "properties": {"prompts": {
            "type": "array", "minItems": min_count, "maxItems": max_count,
            "items": {"type": "object", "properties": {
                "prompt": {"type": "string"},
                "facets": {"type": "array", "items": {"type": "string", "enum": list(facets)}, "minItems": 1},
            }, "required": ["prompt", "facets"], "additionalProperties": False},
        }},
        "required": ["prompts"],
        "additionalProperties": False,
    }
    raw = await llm.decide(llm.request("GenerateConversationStarters", decision_messages(agent, task, [])), schema,
                           "generate_conversation_starters")
    prompts: list[dict[str, Any]] = []
    for i, item in enumerate(raw.get("prompts") or []):
        if not isinstance(item, dict) or not str(item.get("prompt", "")).strip():
            continue
        chosen = [f for f in (item.get("facets") or []) if f in facets] or [facets[i % len(facets)]]
        prompts.append({"prompt": str(item["prompt"]).strip(), "facets": list(dict.fromkeys(chosen))})
    return prompts[:max_count]


async def simulate_turn(
    request: TurnRequest,
    ports: Ports,
    *,
    agent: dict[str, Any] | None = None,
    graph: GraphVersion | None = None,
    referenced_graphs: dict[str, GraphVersion] | None = None,
    llm_model_preferences: dict[str, dict[str, Any]] | None = None,
) -> AsyncIterator[TurnEvent]:
    """Re-run a turn with agent/graph/model overrides (``run_turn`` persists nothing, so this is side-effect free)."""
    from tertulia.engine.turn import run_turn

    changes: dict[str, Any] = {}
    if agent is not None:
        changes["agent"] = agent
    if graph is not None:
        changes["graph"] = graph
    if referenced_graphs is not None:
        changes["referenced_graphs"] = referenced_graphs
    if llm_model_preferences is not None:
        changes["llm_model_preferences"] = llm_model_preferences
    async for event in run_turn(dataclasses.replace(request, **changes), ports):
        yield event
