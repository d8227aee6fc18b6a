"""The ``webhook.deliver`` job: sign and POST one delivery, record the attempt, raise on failure so the worker
retries with the webhook backoff (5, 10, 20, 20 s by default) until the destination's ``retry_attempts`` run out.

Headers: ``x-amigo-idempotent-key`` (the delivery id: stable across retries), ``x-amigo-request-timestamp`` (Unix ms
of this attempt), ``x-amigo-request-signature`` (hex HMAC-SHA256 of ``v1:{timestamp}:{body}``). While a rotated
secret is in its dual-signing window the header carries two comma-separated digests (new first) and the
delivery is marked ``dual_signed``.
"""

from __future__ import annotations

import json
import logging
import time

import httpx
from sqlalchemy import select

from tertulia.core.clock import utcnow
from tertulia.jobs.registry import JobContext, register
from tertulia.webhook.events import DELIVER
from tertulia.webhook.models import WebhookDelivery, WebhookDestination
from tertulia.webhook.secrets import sign, unseal

log = logging.getLogger("tertulia.webhook")
CONNECTION_FAILED = 0  # status_code recorded when no HTTP response arrived (refused, timeout, TLS error)


class DeliveryFailed(Exception):
    pass


def webhook_backoff(attempt: int, settings) -> float:  # noqa: ANN001
    schedule = settings.webhook_backoff_seconds or [5.0]
    return schedule[min(attempt, len(schedule)) - 1]


def render_body(content: dict) -> str:
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False)


async def deliver(ctx: JobContext) -> None:
    runtime = ctx.runtime
    async with runtime.db.sessions() as session:
        delivery = await session.get(WebhookDelivery, ctx.payload["delivery_id"])
        destination = None
        if delivery is not None:
            destination = await session.scalar(
                select(WebhookDestination).where(
                    WebhookDestination.org_id == delivery.org_id, WebhookDestination.id == delivery.destination_id
                )
            )
        nothing_to_send = delivery is None or destination is None or delivery.status == "success"
        if not nothing_to_send:
            now = utcnow()
            secrets = [unseal(destination.sealed_secret, runtime.jwt_secret)]
            if destination.sealed_previous_secret and destination.dual_signing_stops_at and now < destination.dual_signing_stops_at:
                secrets.append(unseal(destination.sealed_previous_secret, runtime.jwt_secret))
            url = destination.url
    if nothing_to_send:  # the destination was deleted, or the delivery already went through
        async with ctx.settle():
            return
    body = render_body(delivery.webhook_content)
    timestamp = str(int(time.time() * 1000))
    headers = {
        "content-type": "application/json",
        "user-agent": "tertulia-webhooks/1",
        "x-amigo-idempotent-key": delivery.id,
        "x-amigo-request-timestamp": timestamp,
        "x-amigo-request-signature": ",".join(sign(s, timestamp, body) for s in secrets),
    }
    settings = runtime.job_settings
    timeout = settings.webhook_timeout_seconds if settings else 10.0
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            response = await client.post(url, content=body.encode(), headers=headers)
        status_code = response.status_code
    except httpx.HTTPError as exc:
        log.warning("webhook delivery %s: %s", delivery.id, type(exc).__name__)
        status_code = CONNECTION_FAILED
    ok = 200 <= status_code < 300
    async with runtime.db.unit_of_work() as session:
        if ok:
            await ctx.complete(session)
        row = await session.get(WebhookDelivery, delivery.id)
        row.delivery_attempts = [*(row.delivery_attempts or []), {"delivery_time": utcnow().isoformat(), "status_code": status_code}]
        row.status = "success" if ok else "failed"
        row.dual_signed = row.dual_signed or len(secrets) > 1
        row.updated_at = utcnow()
    if not ok:
        from tertulia.observability.metrics import WEBHOOK_FAILURES

        WEBHOOK_FAILURES.labels(str(getattr(delivery, "type", None) or "unknown")).inc()
        raise DeliveryFailed(f"destination answered {status_code or 'no response'}")


register(DELIVER, deliver, backoff=webhook_backoff)
