"""Webhook destination use cases. URLs must be HTTPS; plain ``http://`` is accepted only for loopback hosts
(``127.0.0.1``, ``localhost``, ``::1``) so a local receiver can be used in development and tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, NotFound
from tertulia.core.paging import apply_sort, fetch_page, parse_sort_by
from tertulia.webhook import schemas as s
from tertulia.webhook.models import WebhookDelivery, WebhookDestination
from tertulia.webhook.secrets import new_secret, seal

MAX_DESTINATIONS = 10
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
DUAL_SIGNING_WINDOW = timedelta(minutes=30)
ROTATION_INTERVAL = timedelta(hours=1)


def check_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return url
    raise BadRequest("The webhook url must use https (http is accepted only for 127.0.0.1 / localhost).")


def destination_view(d: WebhookDestination) -> s.WebhookDestination:
    return s.WebhookDestination(id=d.id, url=d.url, secret_generated_at=d.secret_generated_at,
                                retry_attempts=d.retry_attempts, accepted_types=list(d.accepted_types or []))


async def require_destination(session: AsyncSession, org_id: str, destination_id: str) -> WebhookDestination:
    row = await session.scalar(
        select(WebhookDestination).where(WebhookDestination.org_id == org_id, WebhookDestination.id == destination_id)
    )
    if row is None:
        raise NotFound(f"Webhook destination {destination_id} not found.")
    return row


async def create_destination(
    session: AsyncSession, master: str, who: Principal, body: s.CreateWebhookDestinationRequest
) -> s.CreateWebhookDestinationResponse:
    url = check_url(str(body.url))
    count = await session.scalar(
        select(func.count()).select_from(WebhookDestination).where(WebhookDestination.org_id == who.org_id)
    )
    if (count or 0) >= MAX_DESTINATIONS:
        raise BadRequest(f"The organization already has the maximum of {MAX_DESTINATIONS} webhook destinations.")
    secret = new_secret()
    now = utcnow()
    row = WebhookDestination(
        org_id=who.org_id, url=url, accepted_types=list(dict.fromkeys(body.accepted_types)),
        retry_attempts=body.retry_attempts, sealed_secret=seal(secret, master), secret_generated_at=now,
        created_at=now, updated_at=now,
    )
    session.add(row)
    await session.flush()
    return s.CreateWebhookDestinationResponse(webhook_destination_id=row.id, secret=secret)


async def list_destinations(session: AsyncSession, who: Principal, ids: list[str]) -> s.GetWebhookDestinationsResponse:
    query = select(WebhookDestination).where(WebhookDestination.org_id == who.org_id)
    if ids:
        query = query.where(WebhookDestination.id.in_(ids))
    rows = (await session.scalars(query.order_by(WebhookDestination.created_at, WebhookDestination.id))).all()
    return s.GetWebhookDestinationsResponse(webhook_destinations=[destination_view(d) for d in rows])


async def update_destination(
    session: AsyncSession, who: Principal, destination_id: str, body: s.UpdateWebhookDestinationRequest
) -> None:
    row = await require_destination(session, who.org_id, destination_id)
    if body.retry_attempts is not None:
        row.retry_attempts = body.retry_attempts
    if body.accepted_types is not None:
        row.accepted_types = list(dict.fromkeys(body.accepted_types))
    row.updated_at = utcnow()
    await session.flush()


async def delete_destination(session: AsyncSession, who: Principal, destination_id: str) -> None:
    row = await require_destination(session, who.org_id, destination_id)
    await session.delete(row)  # queued deliveries to it are settled as no-ops by the delivery job
    await session.flush()


async def rotate_secret(
    session: AsyncSession, master: str, who: Principal, destination_id: str
) -> s.RotateWebhookDestinationSecretResponse:
    row = await require_destination(session, who.org_id, destination_id)
    now = utcnow()
    if row.dual_signing_stops_at is not None and now - row.secret_generated_at < ROTATION_INTERVAL:
        raise BadRequest("The frequency of secret rotation is limited to once per hour.")
    secret = new_secret()
    row.sealed_previous_secret = row.sealed_secret
    row.sealed_secret = seal(secret, master)
    row.secret_generated_at = now
    row.dual_signing_stops_at = now + DUAL_SIGNING_WINDOW
    row.updated_at = now
    await session.flush()
    return s.RotateWebhookDestinationSecretResponse(secret=secret, dual_signing_stops_at=row.dual_signing_stops_at)


async def list_deliveries(
    session: AsyncSession, who: Principal, destination_id: str, *, status: str | None, type_: str | None,
    after: datetime | None, before: datetime | None, sort_by: list[str], limit: int, offset: int,
) -> s.GetWebhookDeliveriesResponse:
    await require_destination(session, who.org_id, destination_id)
    sort = parse_sort_by(sort_by, ["type", "status", "created_at"])
    query = select(WebhookDelivery).where(
        WebhookDelivery.org_id == who.org_id, WebhookDelivery.destination_id == destination_id,
        WebhookDelivery.status.in_(["success", "failed"]),  # "pending": no attempt made yet
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    if type_:
        query = query.where(WebhookDelivery.type == type_)
    if after is not None:
        query = query.where(WebhookDelivery.created_at > after)
    if before is not None:
        query = query.where(WebhookDelivery.created_at < before)
    columns = {"type": WebhookDelivery.type, "status": WebhookDelivery.status, "created_at": WebhookDelivery.created_at}
    query = apply_sort(query, sort, columns, [WebhookDelivery.created_at.desc(), WebhookDelivery.id])
    page = await fetch_page(session, query, limit, offset)
    return s.GetWebhookDeliveriesResponse(
        webhook_deliveries=[
            s.WebhookDeliveryInstance(
                id=d.id, type=d.type, webhook_content=d.webhook_content, status=d.status,
                delivery_attempts=d.delivery_attempts or [], dual_signed=d.dual_signed, created_at=d.created_at,
            )
            for d in page.items
        ],
        has_more=page.has_more, continuation_token=page.continuation_token,
    )
