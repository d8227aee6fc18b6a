"""Sign-in with an API key, token checks and tenancy basics, through HTTP on the ASGI app."""

from __future__ import annotations

import jwt

from tests.conftest import JWT_SECRET
from tests.support.orgs import make_tenant


async def test_sign_in_returns_expiring_token(client, runtime):
    t = await make_tenant(runtime.db)
    r = await client.post(
        t.url("/user/signin_with_api_key"),
        headers={"x-api-key": t.api_key, "x-api-key-id": t.api_key_id, "x-user-id": t.user_id},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["expires_at"].endswith("Z") or "+00:00" in body["expires_at"]
    claims = jwt.decode(body["id_token"], JWT_SECRET, algorithms=["HS256"], issuer="tertulia")
    assert claims["sub"] == t.user_id and claims["org"] == t.org_id


async def test_sign_in_rejects_wrong_secret_unknown_user_and_unknown_org(client, runtime):
    t = await make_tenant(runtime.db)
    base = {"x-api-key-id": t.api_key_id, "x-user-id": t.user_id}
    wrong = await client.post(t.url("/user/signin_with_api_key"), headers={**base, "x-api-key": "nope"})
    assert wrong.status_code == 401
    ghost = await client.post(
        t.url("/user/signin_with_api_key"), headers={**base, "x-api-key": t.api_key, "x-user-id": "ghost"}
    )
    assert ghost.status_code == 401
    org = await client.post("/v1/no-such-org/user/signin_with_api_key", headers={**base, "x-api-key": t.api_key})
    assert org.status_code == 404


async def test_forged_and_expired_tokens_are_refused(client, tenant):
    forged = jwt.encode({"iss": "tertulia", "sub": tenant.user_id, "org": tenant.org_id, "exp": 9999999999}, "not-the-server-secret-" * 3, algorithm="HS256")
    r = await client.get(tenant.url("/organization/agent"), headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    expired = jwt.encode({"iss": "tertulia", "sub": tenant.user_id, "org": tenant.org_id, "exp": 1000}, JWT_SECRET, algorithm="HS256")
    r = await client.get(tenant.url("/organization/agent"), headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    r = await client.get(tenant.url("/organization/agent"))
    assert r.status_code == 401


async def test_token_of_one_org_is_refused_by_another(client, tenant, other_tenant):
    r = await client.get(other_tenant.url("/organization/agent"), headers=tenant.headers)
    assert r.status_code == 401


async def test_basic_auth_with_org_user_username(client, tenant):
    import base64

    cred = base64.b64encode(f"{tenant.org_id}_{tenant.user_id}:{tenant.token}".encode()).decode()
    r = await client.get(tenant.url("/organization/agent"), headers={"Authorization": f"Basic {cred}"})
    assert r.status_code == 200
