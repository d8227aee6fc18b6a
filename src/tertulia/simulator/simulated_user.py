"""The simulated user: an LLM playing the persona in the scenario, one structured decision per turn.

Each call answers ``{"objective_reached": bool, "message": str}``: whether the scenario's objective has been met
(the conversation then ends) and otherwise what the user says next. Its model is, in order: the version set's
``llm_model_preferences["SimulateUser"]``, ``TERTULIA_SIMULATION_USER_MODEL``, the server's default model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tertulia.engine.ports import ChatMessage, LLMRequest

INTERACTION = "SimulateUser"

SYSTEM = """You are role-playing a human user talking to an AI agent, so that the agent can be tested before real
users meet it. Stay in character at all times; never say you are an AI or a simulation.

Who you are ({name}, {role}):
{background}
{user_models}
Write in this language (ISO 639-3): {language}. Your time zone: {timezone}.{starts_at}

Your objective in this conversation: {objective}
How to behave: {instructions}

Write only what the user says (short, natural chat messages). When the agent has fully achieved your objective, set
objective_reached to true (the message is then ignored); otherwise set it to false and write your next message."""

OPENING = {
    "user-message": "The conversation has not started yet. Write your first message to the agent.",
    "external-event": (
        "The conversation starts with an external event instead of a message from you: write that event as a short "
        "factual notification the agent receives (for example 'The user opened the app from a sleep reminder')."
    ),
}

MAX_MESSAGE_CHARS = 400  # a chat message; bounded so a small model's answer always fits MAX_TOKENS as valid JSON
MAX_TOKENS = 200

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "objective_reached": {"type": "boolean"},
        "message": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_CHARS},
    },
    "required": ["objective_reached", "message"],
    "additionalProperties": False,
}


@dataclass
class Persona:
    name: str
    role: str
    background: str
    user_models: list[str]
    language: str | None
    timezone: str | None


@dataclass
class Scenario:
    objective: str
    instructions: str
    initial_message_type: str
    conversation_starts_at: datetime | None = None


@dataclass
class Decision:
    objective_reached: bool
    message: str


def system_prompt(persona: Persona, scenario: Scenario) -> str:
    models = "\n".join(f"- {m}" for m in persona.user_models)
    return SYSTEM.format(
        name=persona.name, role=persona.role, background=persona.background,
        user_models=f"What is true about you:\n{models}" if models else "",
        language=persona.language or "the agent's language", timezone=persona.timezone or "UTC",
        objective=scenario.objective, instructions=scenario.instructions, starts_at=_starts_at(persona, scenario),
    )


def _starts_at(persona: Persona, scenario: Scenario) -> str:
    """The scenario's start time, told to the simulated user in its own time zone (the agent's engine has no clock
    in its prompts; message timestamps stay real)."""
    if scenario.conversation_starts_at is None:
        return ""
    when = scenario.conversation_starts_at
    try:
        when = when.astimezone(ZoneInfo(persona.timezone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        pass
    return f" The conversation takes place on {when:%A %d %B %Y at %H:%M} ({when.tzname()})."


def render(transcript: list[tuple[str, str]]) -> str:
    names = {"agent": "Agent", "user": "You", "event": "Event"}
    return "\n".join(f"{names.get(who, who)}: {text}" for who, text in transcript)


def user_model_name(preferences: dict[str, Any], configured: str | None) -> tuple[str | None, dict[str, Any]]:
    pref = preferences.get(INTERACTION) or {}
    return pref.get("llm_name") or configured, dict(pref.get("params") or {})


async def decide(
    llm: Any, persona: Persona, scenario: Scenario, transcript: list[tuple[str, str]], *, model: str | None,
    params: dict[str, Any] | None = None, opening: str | None = None,
) -> Decision:
    """The user's next move. ``opening`` (``user-message`` / ``external-event``) asks for the first message."""
    ask = OPENING[opening] if opening else (
        "The conversation so far:\n" + render(transcript) + "\n\nHas the agent achieved your objective? If not, "
        "write your next message."
    )
    request = LLMRequest(
        interaction=INTERACTION, model=model, params=dict(params or {}), max_tokens=MAX_TOKENS,
        messages=[ChatMessage("system", system_prompt(persona, scenario)), ChatMessage("user", ask)],
    )
    answer = await llm.decide(request, SCHEMA, "simulated_user_turn")
    message = str(answer.get("message") or "").strip()
    reached = bool(answer.get("objective_reached")) and opening is None
    if not reached and not message:
        raise RuntimeError("The simulated user's model returned an empty message.")
    return Decision(reached, message)
