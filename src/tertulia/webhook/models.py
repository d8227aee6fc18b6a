"""Webhook destinations (secrets sealed at rest) and delivery records (one per event per destination)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, OrgScoped, UTCDateTime


class WebhookDestination(OrgScoped, Base):
    __tablename__ = "webhook_destinations"

    url: Mapped[str] = mapped_column(String(2048))
    accepted_types: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    retry_attempts: Mapped[int] = mapped_column(Integer, default=3)
    sealed_secret: Mapped[str] = mapped_column(Text)  # Fernet token; see webhook/secrets.py
    secret_generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sealed_previous_secret: Mapped[str | None] = mapped_column(Text, default=None)
    dual_signing_stops_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(OrgScoped, Base):
    """``WebhookDeliveryInstance``. ``id`` doubles as the ``x-amigo-idempotent-key`` (stable across retries)."""

    __tablename__ = "webhook_deliveries"

    destination_id: Mapped[str] = mapped_column(String(24), index=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    webhook_content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | success | failed
    delivery_attempts: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [{delivery_time, status_code}]
    dual_signed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
