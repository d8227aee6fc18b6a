"""Services (agent + context graph bindings) with their named version sets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, OrgScoped, UTCDateTime


class Service(OrgScoped, Base):
    __tablename__ = "services"

    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(String(4096), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    agent_id: Mapped[str] = mapped_column(String(24), index=True)
    service_hierarchical_state_machine_id: Mapped[str] = mapped_column(String(24), index=True)
    # {name: {"agent_version_number": int|None, "service_hierarchical_state_machine_version_number": int|None,
    #         "llm_model_preferences": {interaction_name: {"llm_name": str, "params": {}}}}}
    version_sets: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # answered as a list of Tag
    keyterms: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_by: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
