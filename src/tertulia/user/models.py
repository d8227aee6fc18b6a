"""User table. User ids are opaque strings (tertulia mints 24-hex ones); unique per organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, UTCDateTime
from tertulia.core.ids import new_object_id


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("org_id", "email"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(128), default=new_object_id, index=True)
    first_name: Mapped[str] = mapped_column(String(256))
    last_name: Mapped[str] = mapped_column(String(256))
    email: Mapped[str] = mapped_column(String(320))
    role_id: Mapped[str] = mapped_column(String(24), index=True)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    nonsensitive_variables: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sensitive_variables: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    additional_context: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    enable_actions_access: Mapped[bool] = mapped_column(Boolean, default=False)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    num_conversations: Mapped[int] = mapped_column(Integer, default=0)
    num_messages: Mapped[int] = mapped_column(Integer, default=0)
    last_message_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserMemory(Base):
    """An atomic, context-bearing fact about a user, extracted after a conversation (``MemoryInstance``)."""

    __tablename__ = "user_memories"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_object_id)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    conversation_id: Mapped[str] = mapped_column(String(24), index=True)
    references: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # source message ids
    content: Mapped[str] = mapped_column(String(4096))
    context: Mapped[str] = mapped_column(String(4096), default="")
    embedding: Mapped[list[Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserModelEntry(Base):
    """The user's latest synthesized model, one row per dimension group (``UserModel``)."""

    __tablename__ = "user_model_entries"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_object_id)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    content: Mapped[str] = mapped_column(String(8192))
    insight_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    dimensions: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [UserDimension]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
