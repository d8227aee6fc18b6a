"""API keys: only a keyed hash of the secret is stored (``auth/security.py``); the secret is shown once, at creation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, OrgScoped, UTCDateTime
from tertulia.core.ids import new_key_id


class ApiKey(OrgScoped, Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(64), default=new_key_id, unique=True)
    name: Mapped[str | None] = mapped_column(String(256), default=None)
    secret_hash: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
    role_id: Mapped[str] = mapped_column(String(24))
    # set (once) in the transaction that queues the key's ``api-key-expiration-soon`` webhooks; see ``expiry.py``
    expiry_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
