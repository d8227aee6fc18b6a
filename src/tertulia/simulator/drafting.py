"""``tertulia simulate from-conversation``: a real conversation becomes a scenario, so a bad production conversation
becomes a regression test. The LLM drafts the name, objective and instructions from the transcript; the opening
(``initial_message_type``) is read from the transcript itself (who spoke first); the draft is editable before it is
saved."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tertulia.conversation.transcript import load_transcript
from tertulia.core.errors import BadRequest, NotFound
from tertulia.engine.ports import ChatMessage, LLMRequest

INTERACTION = "DraftSimulationScenario"

SYSTEM = """You turn a real conversation between a user and an AI agent into a test scenario, so that a simulated
user can replay the same situation against new versions of the agent. From the transcript, write:
- name: a short title for the scenario (at most 8 words);
- objective: what the user wanted to achieve, as one sentence in the user's voice;
- instructions: how the simulated user should behave to recreate this conversation (their situation, what they say
  first, what they push back on, when they are satisfied), without copying the agent's replies."""

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "objective": {"type": "string", "minLength": 1},
        "instructions": {"type": "string", "minLength": 1},
    },
    "required": ["name", "objective", "instructions"],
    "additionalProperties": False,
}


@dataclass
class Draft:
    name: str
    objective: str
    instructions: str
    initial_message_type: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def draft_scenario(session: Any, llm: Any, org_id: str, conversation_id: str, model: str | None = None) -> Draft:
    transcript = await load_transcript(session, org_id, conversation_id)
    if transcript is None:
        raise NotFound(f"Conversation {conversation_id} not found in organization {org_id}.")
    if not transcript.messages:
        raise BadRequest(f"Conversation {conversation_id} has no messages to learn from.")
    first = transcript.messages[0].message_type
    opening = first if first in ("user-message", "external-event") else "skip"
    request = LLMRequest(interaction=INTERACTION, model=model, messages=[
        ChatMessage("system", SYSTEM), ChatMessage("user", "Transcript:\n" + transcript.render()),
    ])
    answer = await llm.decide(request, SCHEMA, "scenario_draft")
    fallback = f"Replay of conversation {conversation_id}"
    return Draft(
        name=str(answer.get("name") or fallback).strip() or fallback,
        objective=str(answer.get("objective") or "").strip() or "Reach the outcome the original user wanted.",
        instructions=str(answer.get("instructions") or "").strip() or "Behave as the user of the transcript did.",
        initial_message_type=opening,
    )
