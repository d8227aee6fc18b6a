"""API keys over HTTP: mint (bounded by the caller's role, 1-90 days, 20 per org), list (never the secret), revoke."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tertulia.core.clock import utcnow
from tests.support.orgs import make_tenant

KEY_FIELDS = {"_id", "name", "org_id", "created_at", "updated_at", "key_id", "expires_at", "creator", "role_id"}


async def signin(client, tenant, key_id: str, secret: str, user_id: str) -> httpx.Response:
    return await client.post(tenant.url("/user/signin_with_api_key"),
                             headers={"x-api-key": secret, "x-api-key-id": key_id, "x-user-id": user_id})


async def key_ids(client, tenant) -> list[str]:
    r = await client.get(tenant.url("/organization/api_key/"), headers=tenant.headers)
    assert r.status_code == 200
    return [k["key_id"] for k in r.json()["api_keys"]]


async def test_create_list_and_sign_in(client, tenant):
    r = await client.post(tenant.url("/organization/api_key/"), json={"name": "ci", "duration": "P30D"}, headers=tenant.headers)
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"api_key_id", "api_key", "expires_at"}
    from datetime import datetime

    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)

    listed = (await client.get(tenant.url("/organization/api_key/"), headers=tenant.headers)).json()["api_keys"]
    mine = next(k for k in listed if k["key_id"] == body["api_key_id"])
    assert set(mine) == KEY_FIELDS and mine["name"] == "ci"
    assert mine["role_id"] == tenant.role_ids["DefaultAdministratorRole"]  # the default role_name
    assert mine["creator"] == {"org_id": tenant.org_id, "user_id": tenant.user_id}
    assert body["api_key"] not in r.text.replace(body["api_key"], "", 1) and body["api_key"] not in str(listed)

    invited = await client.post(tenant.url("/user/"), headers=tenant.headers,
                                json={"first_name": "K", "last_name": "U", "email": "k@example.com", "role_name": "DefaultUserRole"})
    user_id = invited.json()["user_id"]
    assert (await signin(client, tenant, body["api_key_id"], body["api_key"], user_id)).status_code == 200
    # an administrator key may not impersonate the super administrator (a more permissive role)
    assert (await signin(client, tenant, body["api_key_id"], body["api_key"], tenant.user_id)).status_code == 401

    r = await client.post(tenant.url("/organization/api_key/"), headers=tenant.headers,
                          json={"name": None, "duration": "P1D", "role_name": "DefaultUserRole"})
    assert r.status_code == 201
    user_key = r.json()
    assert (await signin(client, tenant, user_key["api_key_id"], user_key["api_key"], user_id)).status_code == 200


async def test_bad_input_creates_nothing(client, tenant):
    before = await key_ids(client, tenant)
    url, h = tenant.url("/organization/api_key/"), tenant.headers
    for bad in ({"name": "x", "duration": "PT23H"}, {"name": "x", "duration": "P91D"}, {"name": "x", "duration": "soon"},
                {"name": "x", "duration": 86400 * 2}, {"duration": "P2D"}, {"name": "  ", "duration": "P2D"}):
        assert (await client.post(url, json=bad, headers=h)).status_code == 422, bad
    assert (await client.post(url, json={"name": "x", "duration": "P2D", "role_name": "Nope"}, headers=h)).status_code == 404
    assert await key_ids(client, tenant) == before


async def test_caller_cannot_mint_a_more_permissive_key(client, runtime):
    admin = await make_tenant(runtime.db, client, role="DefaultAdministratorRole")
    url = admin.url("/organization/api_key/")
    r = await client.post(url, json={"name": "x", "duration": "P2D", "role_name": "DefaultSuperAdministratorRole"}, headers=admin.headers)
    assert r.status_code == 403
    r = await client.post(url, json={"name": "x", "duration": "P2D", "role_name": "DefaultAdministratorRole"}, headers=admin.headers)
    assert r.status_code == 201


async def test_at_most_twenty_keys(client, tenant):
    url, h = tenant.url("/organization/api_key/"), tenant.headers
    for i in range(19):  # the tenant already holds one
        assert (await client.post(url, json={"name": f"k{i}", "duration": "P1D"}, headers=h)).status_code == 201
    over = await client.post(url, json={"name": "one too many", "duration": "P1D"}, headers=h)
    assert over.status_code == 400 and "20" in over.json()["detail"]
    assert len(await key_ids(client, tenant)) == 20
    victim = (await key_ids(client, tenant))[-1]
    assert (await client.delete(tenant.url(f"/organization/api_key/{victim}/"), headers=h)).status_code == 200
    assert (await client.post(url, json={"name": "replacement", "duration": "P1D"}, headers=h)).status_code == 201


async def test_delete_revokes_tokens_minted_from_the_key(client, tenant, other_tenant):
    h = tenant.headers
    r = await client.post(tenant.url("/organization/api_key/"), json={"name": "temp", "duration": "P3D",
                                                                      "role_name": "DefaultSuperAdministratorRole"}, headers=h)
    key = r.json()
    token = (await signin(client, tenant, key["api_key_id"], key["api_key"], tenant.user_id)).json()["id_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get(tenant.url("/organization/api_key/"), headers=bearer)).status_code == 200

    assert (await client.delete(other_tenant.url(f"/organization/api_key/{key['api_key_id']}/"),
                                headers=other_tenant.headers)).status_code == 404  # another org's key: unknown
    gone = await client.delete(tenant.url(f"/organization/api_key/{key['api_key_id']}/"), headers=h)
    assert gone.status_code == 200 and gone.json() == {"deleted_key_id": key["api_key_id"]}
    assert (await client.get(tenant.url("/organization/api_key/"), headers=bearer)).status_code == 401
    assert (await signin(client, tenant, key["api_key_id"], key["api_key"], tenant.user_id)).status_code == 401
    assert (await client.delete(tenant.url(f"/organization/api_key/{key['api_key_id']}/"), headers=h)).status_code == 404
    assert key["api_key_id"] not in await key_ids(client, tenant)


async def test_user_role_has_no_key_access(client, tenant):
    from tests.support.orgs import sign_in

    r = await client.post(tenant.url("/user/"), headers=tenant.headers,
                          json={"first_name": "N", "last_name": "K", "email": "nk@example.com", "role_name": "DefaultUserRole"})
    h = {"Authorization": f"Bearer {await sign_in(client, tenant, r.json()['user_id'])}"}
    assert (await client.get(tenant.url("/organization/api_key/"), headers=h)).status_code == 403
    assert (await client.post(tenant.url("/organization/api_key/"), json={"name": "x", "duration": "P2D",
                                                                          "role_name": "DefaultUserRole"}, headers=h)).status_code == 403
    assert (await client.delete(tenant.url(f"/organization/api_key/{tenant.api_key_id}/"), headers=h)).status_code == 403
    assert tenant.api_key_id in await key_ids(client, tenant)
