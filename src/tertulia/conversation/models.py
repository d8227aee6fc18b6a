"""Conversations, their interactions (one agent turn each) and messages.

Cross-process rules live in the database, not in a process:
* ``open_key`` is ``"{user_id}|{service_id}"`` while the conversation is unfinished and NULL after; its unique
  constraint enforces "one unfinished conversation per user per service" on every backend.
* ``lock_token`` / ``lock_expires_at`` form a lease taken with one conditional UPDATE before a turn or finish
  runs; a second caller (in any process) finds it held and gets 409. An expired lease (crashed process) is free.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, OrgScoped, UTCDateTime


class Conversation(OrgScoped, Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("open_key"),)

    user_id: Mapped[str] = mapped_column(String(128), index=True)
    service_id: Mapped[str] = mapped_column(String(24), index=True)
    # VersionSetInfo: {name, agent_version_info: [agent_id, v], service_hierarchical_state_machine_version_info:
    # [graph_id, v], llm_model_preferences}
    version_set_info: Mapped[dict[str, Any]] = mapped_column(JSONType)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set on the conversations a simulation run makes (tertulia.simulator): listings leave them out unless asked for.
    simulation_run_id: Mapped[str | None] = mapped_column(String(24), default=None, index=True)
    is_finished: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    is_analyzed: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_post_processings: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    num_messages: Mapped[int] = mapped_column(Integer, default=0)
    num_interactions: Mapped[int] = mapped_column(Integer, default=0)
    final_message_id: Mapped[str | None] = mapped_column(String(24), default=None)
    # Engine state carried between turns: {"graph": [graph_id, v], "state": name, "stack": [...]}
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    active_dynamic_behavior: Mapped[list[Any] | None] = mapped_column(JSONType, default=None)  # [dbs_id, v]
    # The memory recall queries already run in this conversation (the engine does not run them again).
    performed_queries: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    open_key: Mapped[str | None] = mapped_column(String(200), default=None)
    lock_token: Mapped[str | None] = mapped_column(String(64), default=None)
    lock_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Interaction(OrgScoped, Base):
    __tablename__ = "interactions"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)  # 0 for the opening turn
    # The get-interaction-insights body, exactly as answered.
    insights: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # What the engine needs to re-run (simulate) this interaction: its input and the state it started from.
    replay: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(OrgScoped, Base):
    __tablename__ = "messages"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    interaction_id: Mapped[str] = mapped_column(String(24), index=True)
    position: Mapped[int] = mapped_column(Integer)  # total order within the conversation
    sender: Mapped[str] = mapped_column(String(256))
    message: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(8), default="text")  # text | voice
    message_type: Mapped[str] = mapped_column(String(32))  # user-message | agent-message | agent-inner-thought | external-event
    audio_key: Mapped[str | None] = mapped_column(String(256), default=None)  # blob store key of the original audio
    audio_content_type: Mapped[str | None] = mapped_column(String(64), default=None)
