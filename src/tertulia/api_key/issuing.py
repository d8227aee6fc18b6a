"""Minting API keys (used by the API-key endpoints and by ``tertulia bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.api_key.models import ApiKey
from tertulia.auth.security import hash_secret, legacy_hash_secret, new_api_key_secret
from tertulia.core.clock import utcnow


@dataclass
class IssuedKey:
    row: ApiKey
    secret: str


async def issue_api_key(
    session: AsyncSession, org_id: str, role_id: str, creator: dict, *, pepper: bytes | None, days: float = 90,
    name: str | None = None,
) -> IssuedKey:
    """``pepper``: the server's API-key pepper (``Settings.resolved_api_key_pepper``); ``None`` only where it is not
    known (a key written straight to a database by a test fixture), which stores the legacy argon2 hash that the
    first sign-in upgrades (see ``auth/security.py``)."""
    secret = new_api_key_secret()
    now = utcnow()
    row = ApiKey(
        org_id=org_id,
        name=name,
        secret_hash=hash_secret(secret, pepper) if pepper is not None else legacy_hash_secret(secret),
        expires_at=now + timedelta(days=days),
        created_at=now,
        updated_at=now,
        creator=creator,
        role_id=role_id,
    )
    session.add(row)
    await session.flush()
    return IssuedKey(row, secret)
