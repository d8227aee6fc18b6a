"""Secrets: API-key hashing and HS256 id tokens (JWT) with an expiry.

API keys are 256-bit random secrets, so they are stored as a keyed fast hash, ``hmac-sha256$<hex>`` =
HMAC-SHA-256(pepper, secret), and compared in constant time (what the field uses for random API keys: a memory-hard
password hash buys nothing against a 256-bit secret and cost 0.4-1 s of CPU per sign-in under load). The pepper is a
server-side secret kept outside the database (``TERTULIA_API_KEY_PEPPER``, else ``<data_dir>/api_key_pepper``,
generated once), so a stolen database alone cannot even confirm a guessed key.

Keys stored before this scheme carry an argon2 hash (``$argon2...``): they stay valid, are verified with argon2 once,
and the sign-in that verifies one rewrites its hash with the keyed hash (``needs_upgrade``). Code that mints keys
outside a server process, where the pepper is not known (test fixtures writing straight to a database), still uses
``legacy_hash_secret``; those keys are upgraded the same way at their first sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tertulia.core.clock import utcnow

_hasher = PasswordHasher()
ISSUER = "tertulia"
KEYED_SCHEME = "hmac-sha256$"
_peppers: dict[tuple[str | None, str], bytes] = {}


def new_api_key_secret() -> str:
    return secrets.token_urlsafe(32)


def api_key_pepper(configured: str | None, data_dir: Path) -> bytes:
    """The configured pepper, or one generated once in ``data_dir`` (created atomically: processes starting together
    on one data dir agree on it). Cached per process."""
    cache_key = (configured, str(data_dir))
    if cache_key in _peppers:
        return _peppers[cache_key]
    if configured:
        value = configured
    else:
        path = data_dir / "api_key_pepper"
        if not path.exists():
            # Written whole to a private file, then linked into place: link() fails if the name exists, so of
            # processes racing here exactly one pepper wins and nobody reads a half-written file.
            data_dir.mkdir(parents=True, exist_ok=True)
            draft = data_dir / f".api_key_pepper.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        value = path.read_text().strip()
        if not value:
            raise RuntimeError(f"{path} is empty; delete it or set TERTULIA_API_KEY_PEPPER.")
    _peppers[cache_key] = value.encode()
    return _peppers[cache_key]


def hash_secret(secret: str, pepper: bytes) -> str:
    """The keyed hash stored for a new API key."""
    return KEYED_SCHEME + hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def legacy_hash_secret(secret: str) -> str:
    """argon2, for keys minted where the server's pepper is unknown; upgraded at the first sign-in."""
    return _hasher.hash(secret)


@dataclass(frozen=True)
class SecretCheck:
    ok: bool
    needs_upgrade: bool = False  # a valid key still stored with the legacy argon2 hash


def verify_secret(secret_hash: str, secret: str, pepper: bytes) -> SecretCheck:
    if secret_hash.startswith(KEYED_SCHEME):
        return SecretCheck(hmac.compare_digest(secret_hash, hash_secret(secret, pepper)))
    try:
        return SecretCheck(_hasher.verify(secret_hash, secret), needs_upgrade=True)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return SecretCheck(False)


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


class _VerifiedTokens:
    """Tokens whose signature and claims already checked out, so the rate limiter's and the authentication's checks
    of one request (and a client's next requests with the same token) verify the HMAC once. Bounded LRU; an entry is
    only used while its ``exp`` is in the future (the same test PyJWT applies), and it is keyed by the secret too."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[str, str], tuple[int, TokenClaims]] = OrderedDict()

    def get(self, secret: str, token: str) -> TokenClaims | None:
        entry = self.entries.get((secret, token))
        if entry is None:
            return None
        if entry[0] <= time.time():
            self.entries.pop((secret, token), None)
            return None
        self.entries.move_to_end((secret, token))
        return entry[1]

    def put(self, secret: str, token: str, exp: int, claims: TokenClaims) -> None:
        self.entries[(secret, token)] = (exp, claims)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


_verified = _VerifiedTokens()


def read_token(secret: str, token: str) -> TokenClaims | None:
    """Decode and verify a token; None when forged, malformed or expired."""
    cached = _verified.get(secret, token)
    if cached is not None:
        return cached
    try:
        data = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub", "org"]})
    except jwt.PyJWTError:
        return None
    exp = int(data["exp"])
    claims = TokenClaims(
        org_id=str(data["org"]),
        user_id=str(data["sub"]),
        api_key_id=data.get("akid"),
        expires_at=datetime.fromtimestamp(exp, UTC),
    )
    _verified.put(secret, token, exp, claims)
    return claims
