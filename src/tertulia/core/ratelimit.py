"""Per-user, per-operation rate limits with the ``limits`` library.

The spec words each limit as "The user has exceeded the rate limit of N requests per minute for this endpoint", so
a request is counted against its (organization, user): every signed-in user of an organization has the full quota.
Requests without a valid token of the organization (sign-in, forged or foreign credentials) share a quota per client
address instead, so nobody spends another user's quota without their credentials.

The limits are the spec's (``core/rate_table.py``) with the deployment's overrides (``core/rate_config.py``:
``TERTULIA_RATE_LIMITS`` / ``TERTULIA_RATE_LIMITS_FILE``). In-memory (one process) by default; with
``TERTULIA_REDIS_URL`` the counters live in Redis and every API process shares them. Headers follow the spec:
``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (epoch seconds) on every limited response,
``Retry-After`` (seconds) on 429.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from fastapi import Request
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tertulia.core.errors import TooManyRequests
from tertulia.core.rate_config import configured_limits
from tertulia.core.tokens import read_token


class Limiter(Protocol):
    """``runtime.limiter``: per-operation request quotas."""

    def limits(self, operation_id: str) -> bool: ...

    async def hit(self, bucket: str, operation_id: str) -> dict[str, str] | None: ...


class RateLimiter:
    def __init__(
        self, redis_url: str | None = None, enabled: bool = True, items: dict[str, RateLimitItem] | None = None
    ) -> None:
        self.enabled = enabled
        self.storage: Storage = storage_from_string(_async_url(redis_url)) if redis_url else MemoryStorage()
        self.strategy = FixedWindowRateLimiter(self.storage)
        self.items = configured_limits() if items is None else dict(items)

    @classmethod
    def from_settings(cls, settings) -> RateLimiter:  # noqa: ANN001  (tertulia.settings.Settings)
        items = configured_limits(settings.rate_limits_file, settings.rate_limits)
        return cls(settings.redis_url, enabled=settings.rate_limits_enabled, items=items)

    def limits(self, operation_id: str) -> bool:
        """Whether requests of this operation are counted at all (then the caller works out whose quota they spend)."""
        return self.enabled and operation_id in self.items

    async def hit(self, bucket: str, operation_id: str) -> dict[str, str] | None:
        """Count one request of ``bucket`` (whose quota, see ``_bucket``); raise 429 past the limit. Returns the
        headers to add to the response."""
        item = self.items.get(operation_id)
        if item is None or not self.enabled:
            return None
        allowed = await self.strategy.hit(item, bucket, operation_id)
        stats = await self.strategy.get_window_stats(item, bucket, operation_id)
        reset = int(math.ceil(stats.reset_time))
        headers = {
            "X-RateLimit-Limit": str(item.amount),
            "X-RateLimit-Remaining": str(max(0, stats.remaining)),
            "X-RateLimit-Reset": str(reset),
        }
        if not allowed:
            wait = math.ceil(stats.reset_time - time.time())
            headers["Retry-After"] = str(min(60, max(1, wait)))
            raise TooManyRequests(
                f"The user has exceeded the rate limit of {item.amount} requests per {_period(item)} for this "
                f"endpoint ({operation_id}); retry after {headers['Retry-After']} s.",
                headers=headers,
            )
        return headers


def _period(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


def _async_url(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"


def _bucket(request: Request, org_id: str) -> str:
    """Whose quota a request spends: its user's in the organization when it carries a valid token of that
    organization; otherwise (sign-in, bad or foreign credentials) a quota of its own per client address, so nobody
    can use up a user's quota without their credentials. The token check is a signature check only (no database)."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else None
    if token is None and header[:6].lower() == "basic ":
        import base64
        import binascii

        try:
            token = base64.b64decode(header[6:], validate=True).decode().split(":", 1)[1]
        except (binascii.Error, UnicodeDecodeError, IndexError):
            token = None
    if token:
        claims = read_token(request.app.state.runtime.jwt_secret, token)
        if claims is not None and claims.org_id == org_id:
            return f"{org_id}|user|{claims.user_id}"
    client = request.client.host if request.client else "unknown"
    return f"{org_id}|anonymous|{client}"


async def rate_limit(request: Request) -> None:
    """Router-level dependency: limits the matched operation for the organization in the path."""
    route = request.scope.get("route")
    operation_id = getattr(route, "operation_id", None)
    org_id = request.path_params.get("organization")
    limiter: Limiter | None = request.app.state.runtime.limiter
    if limiter is None or operation_id is None or org_id is None or not limiter.limits(operation_id):
        return
    headers = await limiter.hit(_bucket(request, org_id), operation_id)
    if headers:
        request.state.rate_limit_headers = headers


class RateLimitHeaders:
    """ASGI middleware: copies the headers computed by ``rate_limit`` onto the response start message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                extra = state.get("rate_limit_headers")
                if extra:
                    headers = list(message.get("headers", []))
                    present = {k.lower() for k, _ in headers}
                    for key, value in extra.items():
                        if key.lower().encode() not in present:
                            headers.append((key.lower().encode(), value.encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
