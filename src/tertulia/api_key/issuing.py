"""Minting API keys (used by the API-key endpoints and by ``tertulia bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.api_key.models import ApiKey
from tertulia.auth.security import hash_secret, new_api_key_secret
from tertulia.core.clock import utcnow


@dataclass
class IssuedKey:
    row: ApiKey
    secret: str


async def issue_api_key(
    session: AsyncSession, org_id: str, role_id: str, creator: dict, *, days: float = 90, name: str | None = None
) -> IssuedKey:
    secret = new_api_key_secret()
    now = utcnow()
    row = ApiKey(
        org_id=org_id,
        name=name,
        secret_hash=hash_secret(secret),
        expires_at=now + timedelta(days=days),
        created_at=now,
        updated_at=now,
        creator=creator,
        role_id=role_id,
    )
    session.add(row)
    await session.flush()
    return IssuedKey(row, secret)
