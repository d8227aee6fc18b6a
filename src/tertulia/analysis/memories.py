"""``extract-memories``: atomic, context-bearing facts about the user (L1) pulled from the transcript (L0),
guided by the organization's user dimensions; each cites the message ids it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tertulia.conversation.transcript import Transcript
from tertulia.engine.ports import ChatMessage, LLMRequest

INTERACTION = "ExtractMemories"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "memories": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "content": {"type": "string"},
                    "context": {"type": "string"},
                    "references": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["content", "context", "references"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["memories"],
    "additionalProperties": False,
}

SYSTEM = """You extract long-term memories about the USER from a finished conversation with an AI agent.
A memory is one atomic fact about the user (who they are, what they want, what they did, what matters to them),
written so it is understandable on its own. "context" says when/why it came up. "references" lists the ids (the
bracketed values) of the messages that support it. Only facts the user's own messages support; no guesses, no facts
about the agent. Return an empty list when there is nothing worth remembering.
Focus on these dimensions of the user:
{dimensions}"""


@dataclass
class ExtractedMemory:
    content: str
    context: str
    references: list[str] = field(default_factory=list)


def describe_dimensions(dimensions: list[Any]) -> str:
    lines = []
    for dim in dimensions or []:
        if isinstance(dim, dict) and dim.get("description"):
            tags = ", ".join(dim.get("tags") or [])
            lines.append(f"- {dim['description']}" + (f" (tags: {tags})" if tags else ""))
    return "\n".join(lines) or "- anything durable and useful for future conversations"


async def extract_memories(llm: Any, transcript: Transcript, dimensions: list[Any]) -> list[ExtractedMemory]:
    if llm is None:
        raise RuntimeError("no LLM is configured (runtime.llm is None)")
    if not transcript.user_message_ids:
        return []
    request = LLMRequest(
        interaction=INTERACTION,
        messages=[
            ChatMessage("system", SYSTEM.format(dimensions=describe_dimensions(dimensions))),
            ChatMessage("user", "Conversation:\n" + transcript.render()),
        ],
    )
    answer = await llm.decide(request, SCHEMA, "extracted_memories")
    found: list[ExtractedMemory] = []
    seen: set[str] = set()
    for item in answer.get("memories") or []:
        if not isinstance(item, dict):
            continue
        content = str(item.get("content") or "").strip()
        if not content or content.lower() in seen:
            continue
        seen.add(content.lower())
        found.append(
            ExtractedMemory(
                content=content[:4096],
                context=str(item.get("context") or "").strip()[:4096],
                references=transcript.keep_references(item.get("references"), fallback=transcript.user_message_ids),
            )
        )
    return found
