"""Agents (persona heads) and their immutable numbered versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.db import Base, JSONType, OrgScoped


class Agent(OrgScoped, Base):
    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(256))
    deprecated: Mapped[bool] = mapped_column(Boolean, default=False)
    latest_version: Mapped[int | None] = mapped_column(Integer, default=None)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)


class AgentVersion(OrgScoped, Base):
    __tablename__ = "agent_versions"
    __table_args__ = (UniqueConstraint("agent_id", "version"),)

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # initials, identity, background, behaviors, communication_patterns, voice_config
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
