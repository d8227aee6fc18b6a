"""Per-user, per-operation rate limits: 429 with Retry-After past the limit, X-RateLimit-* headers on every limited
response, each user of an organization with their own quota, the deployment's overrides (env and file) and counters
shared across processes through Redis."""

from __future__ import annotations

import secrets
import socket
import time

import pytest
from asgi_lifespan import LifespanManager

from tertulia.app import create_app
from tertulia.core.errors import TooManyRequests
from tertulia.core.rate_config import RateLimitConfigError, configured_limits
from tertulia.core.ratelimit import RateLimiter
from tertulia.runtime import Runtime
from tests.conftest import make_settings
from tests.support.orgs import make_tenant, sign_in

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


async def _second_user(client, tenant) -> dict[str, str]:
    r = await client.post(tenant.url("/user/"), headers=tenant.headers, json={
        "first_name": "Second", "last_name": "User", "email": f"second-{secrets.token_hex(4)}@example.com",
        "role_name": "DefaultSuperAdministratorRole"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {await sign_in(client, tenant, r.json()['user_id'])}"}


async def test_two_users_of_one_organization_each_have_the_full_quota(client, tenant, limiter_on):
    """get-conversations allows 15 per minute *per user*: one user running out leaves the other untouched."""
    second = await _second_user(client, tenant)
    url = tenant.url("/conversation/")
    for i in range(15):
        r = await client.get(url, headers=tenant.headers)
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == str(14 - i)
    over = await client.get(url, headers=tenant.headers)
    assert over.status_code == 429 and "The user has exceeded the rate limit of 15 requests per minute" in over.text
    r = await client.get(url, headers=second)
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "14"
    assert (await client.get(url, headers=tenant.headers)).status_code == 429  # the first is still limited


@pytest.fixture
def configured_limiter(runtime, tmp_path):
    """Installs a limiter built from settings with the given overrides (env string and/or file)."""
    previous = runtime.limiter

    def install(inline: str | None = None, file_text: str | None = None) -> RateLimiter:
        path = None
        if file_text is not None:
            path = tmp_path / "limits.yaml"
            path.write_text(file_text)
        settings = make_settings(runtime.settings.database_url, tmp_path, rate_limits=inline, rate_limits_file=path)
        settings.rate_limits_enabled = True
        runtime.limiter = RateLimiter.from_settings(settings)
        return runtime.limiter

    yield install
    runtime.limiter = previous


async def test_operators_raise_lower_or_disable_limits_per_operation(client, tenant, configured_limiter):
    configured_limiter(
        inline="get-users=2, get-conversations=off",
        file_text="get-users: 50\nget_roles_v1__organization__role__get: 3/hour\nsign-in-with-email: 4\n",
    )
    users = tenant.url("/user/")
    assert [(await client.get(users, headers=tenant.headers)).status_code for _ in range(3)] == [200, 200, 429]
    for _ in range(20):  # the spec's 15 per minute is switched off: no counting, no headers
        r = await client.get(tenant.url("/conversation/"), headers=tenant.headers)
        assert r.status_code == 200 and "X-RateLimit-Limit" not in r.headers
    r = await client.get(tenant.url("/role/"), headers=tenant.headers)
    assert r.headers["X-RateLimit-Limit"] == "3" and r.headers["X-RateLimit-Remaining"] == "2"
    r = await client.post(tenant.url("/user/signin"), json={"redirect_link": "https://x.example.com/", "email": "a@example.com"})
    assert r.status_code == 200 and r.headers["X-RateLimit-Limit"] == "4"  # the spec gives it none; added here
    r = await client.get(tenant.url("/service/"), headers=tenant.headers)
    assert r.headers["X-RateLimit-Limit"] == "50"  # untouched operations keep the spec's limit (get-services: 50)


def test_every_limit_of_the_spec_can_be_set_at_once_and_bad_values_are_refused(tmp_path):
    assert {item.amount for item in configured_limits(inline='{"*": 1000}').values()} == {1000}
    assert configured_limits(inline='{"*": "off", "create-conversation": 7}').keys() == {"create-conversation"}
    for bad in ("get-users=lots", "get-users", '{"get-users": true}', '{"get-users": -3}', "[1]"):
        with pytest.raises((RateLimitConfigError, ValueError)):
            configured_limits(inline=bad)
    with pytest.raises(RateLimitConfigError):
        configured_limits(file=tmp_path / "missing.yaml")


async def test_an_override_naming_an_unknown_operation_stops_the_start(runtime, tmp_path):
    settings = make_settings(runtime.settings.database_url, tmp_path, rate_limits="get-userz=5")
    app = create_app(Runtime(settings=settings, db=runtime.db, jwt_secret="x" * 40))
    with pytest.raises(RateLimitConfigError, match="get-userz"):
        async with LifespanManager(app):
            pass
