"""The ``prompt_logs`` table: one row per LLM call of a turn (see the package docstring)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.db import Base, JSONType, OrgScoped


class PromptLog(OrgScoped, Base):
    __tablename__ = "prompt_logs"
    __table_args__ = (Index("ix_prompt_logs_org_key", "org_id", "log_key"),)

    log_key: Mapped[str] = mapped_column(String(200))
    conversation_id: Mapped[str] = mapped_column(String(24))
    interaction_id: Mapped[str] = mapped_column(String(24))
    sequence: Mapped[int] = mapped_column(Integer)
    interaction_name: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    # the conversation's attributes when the call was made (permission conditions: user_id, service_id)
    resource: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    history: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [[role, content], ...]
    output: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
