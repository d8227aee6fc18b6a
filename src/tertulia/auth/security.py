"""Secrets: argon2 hashing of API keys and HS256 id tokens (JWT) with an expiry."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tertulia.core.clock import utcnow

_hasher = PasswordHasher()
ISSUER = "tertulia"


def new_api_key_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    org_id: str
    user_id: str
    api_key_id: str | None
    expires_at: datetime


def mint_token(secret: str, org_id: str, user_id: str, api_key_id: str | None, ttl_seconds: int) -> tuple[str, datetime]:
    now = utcnow()
    expires_at = now + timedelta(seconds=ttl_seconds)
    payload = {
        "iss": ISSUER,
        "sub": user_id,
        "org": org_id,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    if api_key_id:
        payload["akid"] = api_key_id
    return jwt.encode(payload, secret, algorithm="HS256"), expires_at.replace(microsecond=0)


def read_token(secret: str, token: str) -> TokenClaims | None:
    """Decode and verify a token; None when forged, malformed or expired."""
    try:
        data = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub", "org"]})
    except jwt.PyJWTError:
        return None
    return TokenClaims(
        org_id=str(data["org"]),
        user_id=str(data["sub"]),
        api_key_id=data.get("akid"),
        expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
    )
