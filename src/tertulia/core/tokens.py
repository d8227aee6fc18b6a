"""HS256 id tokens (JWT) with an expiry: minted at sign-in, verified by authentication and the rate limiter."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from tertulia.core.clock import utcnow

ISSUER = "tertulia"


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
