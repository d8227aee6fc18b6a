"""Roles (named sets of permission grants) and temporary permission grants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.db import Base, JSONType, OrgScoped, UTCDateTime


class Role(OrgScoped, Base):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(256), index=True)
    description: Mapped[str] = mapped_column(String(2048), default="")
    frontend_view: Mapped[str] = mapped_column(String(16), default="client")
    permission_grants: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # A modified role is cloned under the same name; the old row stays (for in-flight tokens) until it expires.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class TemporaryPermissionGrant(OrgScoped, Base):
    __tablename__ = "temporary_permission_grants"

    user_id: Mapped[str] = mapped_column(String(128), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    permission_grant: Mapped[dict[str, Any]] = mapped_column(JSONType)
    justification: Mapped[str] = mapped_column(String(4096))
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
