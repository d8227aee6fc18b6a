"""Secrets: API-key hashing (the HS256 id tokens are ``core.tokens``).

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
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Id tokens live in ``core.tokens`` (the rate limiter reads them too) and the pepper in ``settings`` (beside the JWT
# secret): re-exported here so the secrets of the API stay importable from one place.
from tertulia.core.tokens import ISSUER, TokenClaims, mint_token, read_token  # noqa: F401
from tertulia.settings import _peppers, api_key_pepper  # noqa: F401

_hasher = PasswordHasher()
KEYED_SCHEME = "hmac-sha256$"


def new_api_key_secret() -> str:
    return secrets.token_urlsafe(32)


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
