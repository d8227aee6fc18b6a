"""Dynamic behavior sets, their versions, and the record of each time one fired in a conversation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, OrgScoped, UTCDateTime


class DynamicBehaviorSet(OrgScoped, Base):
    __tablename__ = "dynamic_behavior_sets"

    name: Mapped[str] = mapped_column(String(256))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    applied_to_services: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_by: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DynamicBehaviorSetVersion(OrgScoped, Base):
    __tablename__ = "dynamic_behavior_set_versions"
    __table_args__ = (UniqueConstraint("dynamic_behavior_set_id", "version"),)

    dynamic_behavior_set_id: Mapped[str] = mapped_column(
        ForeignKey("dynamic_behavior_sets.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    conversation_triggers: Mapped[list[Any]] = mapped_column(JSONType)
    actions: Mapped[list[Any]] = mapped_column(JSONType)  # inject-instruction / change-tool-candidates
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)


class DynamicBehaviorInvocation(OrgScoped, Base):
    __tablename__ = "dynamic_behavior_invocations"

    dynamic_behavior_set_id: Mapped[str] = mapped_column(String(24), index=True)
    dynamic_behavior_set_version: Mapped[int] = mapped_column(Integer)
    conversation_id: Mapped[str] = mapped_column(String(24), index=True)
    service_id: Mapped[str] = mapped_column(String(24))
    user_id: Mapped[str] = mapped_column(String(128))
    initial_message_id: Mapped[str | None] = mapped_column(String(24), default=None)
    agent_message_id: Mapped[str | None] = mapped_column(String(24), default=None)
    agent_inner_thoughts_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    external_event_message_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    invoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
