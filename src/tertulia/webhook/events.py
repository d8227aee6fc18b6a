"""Outbound webhook events: one delivery record + one delivery job per accepting destination, written in the
caller's transaction (so an event exists exactly when the state change that caused it commits).

Payloads (``webhook_content``, the JSON body POSTed):

* ``conversation-post-processing-complete`` (the spec's): ``{"type", "post_processing_type", "conversation_id",
  "org_id"}``, one per completed post-processing step.
* ``api-key-expiration-soon`` (no published schema; tertulia's): ``{"type", "org_id", "api_key_id", "name",
  "expires_at"}`` (``api_key_id`` is the key's ``key_id``; ``expires_at`` ISO 8601 UTC), sent once per key when it
  comes within ``TERTULIA_JOBS_API_KEY_EXPIRY_NOTICE_DAYS`` (7) days of expiry; see ``tertulia.api_key.expiry``.
* ``agent-framework-resource-updated`` (no published schema; tertulia's): ``{"type", "org_id", "resource_type",
  "resource_id", "version", "action"}`` with ``resource_type`` in ``RESOURCE_TYPES``, ``version`` the version
  created (int) or null when the change is not a version, ``action`` in ``created | updated | deleted``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.jobs.port import enqueue
from tertulia.webhook.models import WebhookDelivery, WebhookDestination

DELIVER = "webhook.deliver"
POST_PROCESSING_COMPLETE = "conversation-post-processing-complete"
API_KEY_EXPIRATION_SOON = "api-key-expiration-soon"
RESOURCE_UPDATED = "agent-framework-resource-updated"
WEBHOOK_TYPES = (POST_PROCESSING_COMPLETE, API_KEY_EXPIRATION_SOON, RESOURCE_UPDATED)
RESOURCE_TYPES = ("agent", "service_hierarchical_state_machine", "service", "dynamic_behavior_set", "metric")
ResourceType = Literal["agent", "service_hierarchical_state_machine", "service", "dynamic_behavior_set", "metric"]
ResourceAction = Literal["created", "updated", "deleted"]


async def enqueue_event(session: AsyncSession, org_id: str, event_type: str, content: dict[str, Any]) -> list[str]:
    """Queue ``content`` for every destination of ``org_id`` that accepts ``event_type``; returns delivery ids."""
    destinations = (
        await session.scalars(select(WebhookDestination).where(WebhookDestination.org_id == org_id))
    ).all()
    ids: list[str] = []
    for destination in destinations:
        if event_type not in (destination.accepted_types or []):
            continue
        delivery = WebhookDelivery(
            org_id=org_id, destination_id=destination.id, type=event_type, webhook_content=content, status="pending"
        )
        session.add(delivery)
        await session.flush()
        await enqueue(
            session,
            DELIVER,
            {"delivery_id": delivery.id},
            org_id=org_id,
            dedupe_key=f"webhook:{delivery.id}",
            max_attempts=1 + max(0, int(destination.retry_attempts)),
        )
        ids.append(delivery.id)
    return ids


async def post_processing_complete(session: AsyncSession, org_id: str, conversation_id: str, step: str) -> list[str]:
    return await enqueue_event(
        session,
        org_id,
        POST_PROCESSING_COMPLETE,
        {
            "type": POST_PROCESSING_COMPLETE,
            "post_processing_type": step,
            "conversation_id": conversation_id,
            "org_id": org_id,
        },
    )


async def resource_updated(
    session: AsyncSession, org_id: str, resource_type: ResourceType, resource_id: str, version: int | None,
    action: ResourceAction,
) -> list[str]:
    """``agent-framework-resource-updated``; call in the change's transaction, before its commit."""
    return await enqueue_event(
        session,
        org_id,
        RESOURCE_UPDATED,
        {
            "type": RESOURCE_UPDATED,
            "org_id": org_id,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "version": version,
            "action": action,
        },
    )


async def api_key_expiration_soon(
    session: AsyncSession, org_id: str, key_id: str, name: str | None, expires_at: datetime
) -> list[str]:
    return await enqueue_event(
        session,
        org_id,
        API_KEY_EXPIRATION_SOON,
        {
            "type": API_KEY_EXPIRATION_SOON,
            "org_id": org_id,
            "api_key_id": key_id,
            "name": name,
            "expires_at": expires_at.isoformat(),
        },
    )
