"""Feedback on conversations and interactions (seed 002's feedback API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, OrgScoped, UTCDateTime


class ConversationFeedback(OrgScoped, Base):
    """A comment on a conversation (``interaction_id`` None) or on one of its interactions (seed 002's feedback API)."""

    __tablename__ = "conversation_feedbacks"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    interaction_id: Mapped[str | None] = mapped_column(String(24), default=None, index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    user_org_id: Mapped[str] = mapped_column(String(64))
    # The wire ``feedback_content``: {"type": "conversation", "comment"} or
    # {"type": "interaction_comment", "interaction_id", "comment", "resolved"}.
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
