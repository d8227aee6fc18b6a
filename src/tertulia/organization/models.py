"""Organization table. The org id is the slug used in every path (``/v1/{organization}/...``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, UTCDateTime


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_name: Mapped[str] = mapped_column(String(256))
    title: Mapped[str | None] = mapped_column(String(256), default=None)
    main_description: Mapped[str | None] = mapped_column(String(2048), default=None)
    sub_description: Mapped[str | None] = mapped_column(String(2048), default=None)
    onboarding_instructions: Mapped[list[Any] | None] = mapped_column(JSONType, default=None)
    user_dimensions: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    default_user_preferences: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    tenant_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
