"""``api-key-expiration-soon`` webhooks: the periodic ``api-key.expiry-scan`` job finds keys expiring within
``TERTULIA_JOBS_API_KEY_EXPIRY_NOTICE_DAYS`` (7) days and notifies each key once.

Once, across any number of workers and repeated scans: each key is claimed with a conditional
``UPDATE ... SET expiry_notified_at WHERE expiry_notified_at IS NULL`` and its deliveries are queued in that same
transaction; only the transaction whose update matched the row queues anything. Keys that are already expired are
skipped; a key minted with less than the notice period left is notified at the next scan.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tertulia.api_key.models import ApiKey
from tertulia.core.clock import utcnow
from tertulia.jobs.registry import JobContext, register, register_periodic
from tertulia.jobs.settings import JobSettings
from tertulia.webhook.events import api_key_expiration_soon

SCAN = "api-key.expiry-scan"


async def notify_expiring_keys(db, notice: timedelta) -> int:  # noqa: ANN001
    """Queue ``api-key-expiration-soon`` for every not-yet-notified key expiring within ``notice``; returns how
    many keys this call notified."""
    now = utcnow()
    async with db.sessions() as session:
        candidates = (
            await session.execute(
                select(ApiKey.id, ApiKey.org_id).where(
                    ApiKey.expiry_notified_at.is_(None), ApiKey.expires_at > now, ApiKey.expires_at <= now + notice
                )
            )
        ).all()
    notified = 0
    for key_id, org_id in candidates:  # one short transaction per key
        async with db.unit_of_work() as session:
            claimed = await session.execute(
                update(ApiKey)
                .where(ApiKey.org_id == org_id, ApiKey.id == key_id, ApiKey.expiry_notified_at.is_(None))
                .values(expiry_notified_at=now)
            )
            if claimed.rowcount != 1:  # another scan got it first (the update changed nothing)
                continue
            key = await session.scalar(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id))
            await api_key_expiration_soon(session, org_id, key.key_id, key.name, key.expires_at)
            notified += 1
    return notified


def _settings(runtime) -> JobSettings:  # noqa: ANN001
    return runtime.job_settings or JobSettings()


async def scan(ctx: JobContext) -> None:
    await notify_expiring_keys(ctx.runtime.db, timedelta(days=_settings(ctx.runtime).api_key_expiry_notice_days))


register(SCAN, scan)
register_periodic(SCAN, lambda settings: settings.api_key_scan_seconds)
