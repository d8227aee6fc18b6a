"""Per-organization, per-operation rate limits: 429 with Retry-After past the spec's limit, X-RateLimit-* headers on
every limited response, and counters shared across processes through Redis."""

from __future__ import annotations

import secrets
import socket
import time

import pytest

from tertulia.core.errors import TooManyRequests
from tertulia.core.ratelimit import RateLimiter
from tests.support.orgs import make_tenant

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


async def test_sign_in_limit_answers_429_with_retry_after(client, runtime, limiter_on):
    tenant = await make_tenant(runtime.db)
    other = await make_tenant(runtime.db)
    creds = {"x-api-key": tenant.api_key, "x-api-key-id": tenant.api_key_id, "x-user-id": tenant.user_id}
    remaining = []
    for _ in range(5):
        r = await client.post(tenant.url("/user/signin_with_api_key"), headers=creds)
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(r.headers["X-RateLimit-Remaining"]))
        assert int(r.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert remaining == [4, 3, 2, 1, 0]
    over = await client.post(tenant.url("/user/signin_with_api_key"), headers=creds)
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert over.headers["X-RateLimit-Limit"] == "5" and over.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in over.headers and "rate limit" in over.json()["detail"].lower()
    # limits are per organization
    r = await client.post(other.url("/user/signin_with_api_key"),
                          headers={"x-api-key": other.api_key, "x-api-key-id": other.api_key_id, "x-user-id": other.user_id})
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "4"


async def test_headers_on_normal_responses(client, tenant, limiter_on):
    r = await client.get(tenant.url("/user/"), headers=tenant.headers)
    assert r.status_code == 200
    assert r.headers["X-RateLimit-Limit"] == "60" and r.headers["X-RateLimit-Remaining"] == "59"
    r = await client.get(tenant.url("/role/"), headers=tenant.headers)
    assert r.headers["X-RateLimit-Limit"] == "20"
    # an operation the spec gives no limit carries no rate-limit headers
    r = await client.post(tenant.url("/user/signin"), json={"redirect_link": "https://x.example.com/", "email": "a@example.com"})
    assert r.status_code == 200 and "X-RateLimit-Limit" not in r.headers


async def test_api_key_creation_limit(client, tenant, limiter_on):
    url = tenant.url("/organization/api_key/")
    for i in range(5):
        assert (await client.post(url, json={"name": f"k{i}", "duration": "P1D"}, headers=tenant.headers)).status_code == 201
    r = await client.post(url, json={"name": "k6", "duration": "P1D"}, headers=tenant.headers)
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert len((await client.get(url, headers=tenant.headers)).json()["api_keys"]) == 6  # 1 + 5, the 429 made none


@pytest.mark.skipif(not _redis_answers(), reason="no Redis answering on 127.0.0.1:6379; shared counters need one")
async def test_two_limiters_on_one_redis_share_counts():
    org_id = "ratelimit-" + secrets.token_hex(8)
    first, second = RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)
    for limiter in (first, second, first, second):
        await limiter.hit(org_id, "create-api-key")  # 5 per minute
    headers = await second.hit(org_id, "create-api-key")
    assert headers is not None and headers["X-RateLimit-Remaining"] == "0"
    with pytest.raises(TooManyRequests) as exc:
        await first.hit(org_id, "create-api-key")
    assert "Retry-After" in (exc.value.headers or {})
    # another organization has its own counter
    assert (await first.hit(org_id + "-other", "create-api-key"))["X-RateLimit-Remaining"] == "4"


async def test_requests_without_valid_credentials_do_not_spend_the_organizations_quota(client, tenant, limiter_on):
    """get-conversations allows 15/min per organization; 20 anonymous or forged calls must not use it up."""
    for _ in range(20):
        r = await client.get(tenant.url("/conversation/"), headers={"Authorization": "Bearer forged.token.value"})
        assert r.status_code in (401, 429)
    assert r.status_code == 429  # the anonymous caller is limited on its own quota
    ok = await client.get(tenant.url("/conversation/"), headers=tenant.headers)
    assert ok.status_code == 200 and ok.headers["X-RateLimit-Remaining"] == "14"
