"""The conversation as the analysis LLM calls see it: ordered messages, each tagged with its id for references."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.conversation.models import Conversation, Interaction, Message

SPEAKERS = {"user-message": "User", "agent-message": "Agent", "external-event": "Event"}


@dataclass
class Transcript:
    conversation: Conversation
    messages: list[Message] = field(default_factory=list)

    @property
    def message_ids(self) -> set[str]:
        return {m.id for m in self.messages}

    @property
    def user_message_ids(self) -> list[str]:
        return [m.id for m in self.messages if m.message_type == "user-message"]

    def render(self) -> str:
        lines = [f"[{m.id}] {SPEAKERS.get(m.message_type, m.message_type)}: {m.message}" for m in self.messages]
        return "\n".join(lines) if lines else "(no messages)"

    def keep_references(self, references: list | None, fallback: list[str] | None = None) -> list[str]:
        """The LLM's cited message ids that really belong to this transcript (deduplicated, in order)."""
        known = self.message_ids
        kept: list[str] = []
        for ref in references or []:
            ref = str(ref).strip().strip("[]")
            if ref in known and ref not in kept:
                kept.append(ref)
        return kept or list(fallback or [])


async def load_transcript(
    session: AsyncSession, org_id: str, conversation_id: str, up_to_interaction_id: str | None = None
) -> Transcript | None:
    """The conversation and its visible messages (no inner thoughts), optionally only up to one interaction."""
    conversation = await session.scalar(
        select(Conversation).where(Conversation.org_id == org_id, Conversation.id == conversation_id)
    )
    if conversation is None:
        return None
    stmt = select(Message).where(Message.org_id == org_id, Message.conversation_id == conversation_id)
    if up_to_interaction_id is not None:
        limit = await session.scalar(
            select(Interaction.sequence).where(
                Interaction.org_id == org_id,
                Interaction.conversation_id == conversation_id,
                Interaction.id == up_to_interaction_id,
            )
        )
        if limit is None:
            return Transcript(conversation, [])
        allowed = select(Interaction.id).where(
            Interaction.conversation_id == conversation_id, Interaction.sequence <= limit
        )
        stmt = stmt.where(Message.interaction_id.in_(allowed))
    messages = (await session.scalars(stmt.order_by(Message.position))).all()
    return Transcript(conversation, [m for m in messages if m.message_type in SPEAKERS])
