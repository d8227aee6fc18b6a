"""Roles over HTTP: create, list, modify (in place or clone-and-migrate), assign, temporary permission grants."""

from __future__ import annotations

import secrets

from tests.support.orgs import make_tenant, sign_in

GRANTS = [{"permission_name": "User:GetUserInfo", "conditions": {"user_id": {"type": "Equals", "value": "@me"}}},
          {"permission_name": "Organization:GetAgent", "conditions": {}}]
ROLE = {"role_name": "Reviewer", "description": "Reads agents.", "permission_grants": GRANTS, "frontend_view": "client"}


async def roles(client, tenant, query: str = "") -> list[dict]:
    r = await client.get(tenant.url(f"/role/{query}"), headers=tenant.headers)
    assert r.status_code == 200, r.text
    return r.json()["roles"]


async def invite(client, tenant, role_name: str) -> str:
    r = await client.post(tenant.url("/user/"), headers=tenant.headers, json={
        "first_name": "R", "last_name": "U", "email": f"r{secrets.token_hex(4)}@example.com", "role_name": role_name})
    assert r.status_code == 201, r.text
    return r.json()["user_id"]


async def bearer(client, tenant, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await sign_in(client, tenant, user_id)}"}


async def user_role(client, tenant, user_id: str) -> str:
    return (await client.get(tenant.url(f"/user/?user_id={user_id}"), headers=tenant.headers)).json()["users"][0]["role"]


async def test_create_and_list_roles(client, tenant):
    h = tenant.headers
    r = await client.post(tenant.url("/role/"), json=ROLE, headers=h)
    assert r.status_code == 201
    role_id = r.json()["role_id"]
    listed = await roles(client, tenant)
    assert {x["name"] for x in listed} == {"DefaultUserRole", "DefaultAdministratorRole", "DefaultAmigoAdministratorRole",
                                            "DefaultSuperAdministratorRole", "Reviewer"}
    mine = next(x for x in listed if x["id"] == role_id)
    assert mine == {"id": role_id, "name": "Reviewer", "description": "Reads agents.", "frontend_view": "client", "permission_grants": []}
    full = await roles(client, tenant, f"?return_permission_grants=true&id={role_id}")
    assert full[0]["permission_grants"] == GRANTS
    assert [x["id"] for x in await roles(client, tenant, "?name=Reviewer&name=DefaultUserRole")] == [tenant.role_ids["DefaultUserRole"], role_id]
    assert (await client.get(tenant.url("/role/?id=zzz"), headers=h)).status_code == 422

    assert (await client.post(tenant.url("/role/"), json=ROLE, headers=h)).status_code == 409
    for bad in ({**ROLE, "role_name": "X", "permission_grants": [{"permission_name": "User:Fly", "conditions": {}}]},
                {**ROLE, "role_name": "X", "permission_grants": [{"permission_name": "User:GetUserInfo",
                                                                  "conditions": {"user_id": {"type": "Like", "value": 1}}}]},
                {**ROLE, "role_name": "X", "frontend_view": "superuser"},
                {**ROLE, "role_name": "X", "description": " "},
                {**ROLE, "role_name": "x" * 257}):
        assert (await client.post(tenant.url("/role/"), json=bad, headers=h)).status_code == 422, bad
    assert len(await roles(client, tenant)) == 5


async def test_modify_role_in_place_and_by_clone(client, tenant):
    h = tenant.headers
    role_id = (await client.post(tenant.url("/role/"), json=ROLE, headers=h)).json()["role_id"]
    r = await client.post(tenant.url("/role/Reviewer"), json={"description": "Now reviews more."}, headers=h)
    assert r.status_code == 200 and r.json() == {"role_id": role_id}

    user_id = await invite(client, tenant, "Reviewer")
    key = (await client.post(tenant.url("/organization/api_key/"), json={"name": "rk", "duration": "P2D", "role_name": "Reviewer"},
                             headers=h)).json()
    user_h = await bearer(client, tenant, user_id)
    assert (await client.get(tenant.url("/user/"), headers=user_h)).status_code == 200

    bad = {"permission_grants": [{"permission_name": "Nope:Nope", "conditions": {}}]}
    assert (await client.post(tenant.url("/role/Reviewer"), json=bad, headers=h)).status_code == 422
    assert (await client.post(tenant.url("/role/Ghost"), json={"description": "x"}, headers=h)).status_code == 404

    new = await client.post(tenant.url("/role/Reviewer"), json={"permission_grants": GRANTS[1:], "frontend_view": "admin"}, headers=h)
    assert new.status_code == 200
    new_id = new.json()["role_id"]
    assert new_id != role_id
    listed = [x for x in await roles(client, tenant, "?return_permission_grants=true") if x["name"] == "Reviewer"]
    assert len(listed) == 1 and listed[0]["id"] == new_id and listed[0]["frontend_view"] == "admin"
    assert listed[0]["description"] == "Now reviews more." and listed[0]["permission_grants"] == GRANTS[1:]
    assert await user_role(client, tenant, user_id) == new_id
    keys = (await client.get(tenant.url("/organization/api_key/"), headers=h)).json()["api_keys"]
    assert next(k for k in keys if k["key_id"] == key["api_key_id"])["role_id"] == new_id
    # the user now lacks User:GetUserInfo, immediately
    assert (await client.get(tenant.url("/user/"), headers=user_h)).status_code == 403


async def test_modify_role_cannot_escalate(client, runtime):
    admin = await make_tenant(runtime.db, client, role="DefaultAdministratorRole")
    grab = {"permission_grants": [{"permission_name": "Organization:DeleteOrganization", "conditions": {}}]}
    assert (await client.post(admin.url("/role/DefaultUserRole"), json=grab, headers=admin.headers)).status_code == 403
    assert [x["id"] for x in await roles(client, admin, "?name=DefaultUserRole")] == [admin.role_ids["DefaultUserRole"]]


async def test_assign_role(client, runtime, tenant):
    h = tenant.headers
    user_id = await invite(client, tenant, "DefaultUserRole")
    r = await client.post(tenant.url("/role/DefaultAdministratorRole/assign"), json={"user_id": user_id}, headers=h)
    assert r.status_code == 200 and r.json() == {"role_id": tenant.role_ids["DefaultAdministratorRole"]}
    assert await user_role(client, tenant, user_id) == tenant.role_ids["DefaultAdministratorRole"]
    assert (await client.post(tenant.url("/role/Ghost/assign"), json={"user_id": user_id}, headers=h)).status_code == 404
    assert (await client.post(tenant.url("/role/DefaultUserRole/assign"), json={"user_id": "ghost"}, headers=h)).status_code == 404
    assert (await client.post(tenant.url("/role/DefaultUserRole/assign"), json={}, headers=h)).status_code == 422

    admin_h = await bearer(client, tenant, user_id)  # now an administrator
    up = await client.post(tenant.url("/role/DefaultSuperAdministratorRole/assign"), json={"user_id": user_id}, headers=admin_h)
    assert up.status_code == 403
    down = await client.post(tenant.url("/role/DefaultUserRole/assign"), json={"user_id": tenant.user_id}, headers=admin_h)
    assert down.status_code == 403
    assert await user_role(client, tenant, tenant.user_id) == tenant.role_ids["DefaultSuperAdministratorRole"]
    assert await user_role(client, tenant, user_id) == tenant.role_ids["DefaultAdministratorRole"]


async def test_temporary_permission_grants(client, tenant):
    h = tenant.headers
    user_id = await invite(client, tenant, "DefaultUserRole")
    user_h = await bearer(client, tenant, user_id)
    assert (await client.get(tenant.url("/role/"), headers=user_h)).status_code == 403
    body = {"user_id": user_id, "duration": "PT1H", "justification": "Audit of role setup",
            "permission_grant": {"permission_name": "Role:GetRole", "conditions": {}}, "tags": {"ticket": "T 42"}}
    url = tenant.url("/role/temporary_permission_grant/")
    for bad in ({**body, "justification": "too short"}, {**body, "duration": "1 hour"}, {**body, "duration": "PT0S"},
                {**body, "permission_grant": {"permission_name": "Role:Nope", "conditions": {}}},
                {**body, "tags": {"bad-key!": "x"}}, {k: v for k, v in body.items() if k != "tags"}):
        assert (await client.post(url, json=bad, headers=h)).status_code == 422, bad
    assert (await client.post(url, json={**body, "user_id": "ghost"}, headers=h)).status_code == 404
    listing = tenant.url("/role/temporary_permission_grants/")
    assert (await client.get(listing, headers=h)).json()["temporary_permission_grants"] == []

    r = await client.post(url, json=body, headers=h)
    assert r.status_code == 201 and set(r.json()) == {"temporary_permission_grant_id", "expires_at"}
    grant_id = r.json()["temporary_permission_grant_id"]
    assert (await client.get(tenant.url("/role/"), headers=user_h)).status_code == 200  # the grant applies at once
    assert (await client.post(tenant.url("/role/"), json=ROLE, headers=user_h)).status_code == 403

    other = await client.post(url, json={**body, "duration": "P2D", "tags": {},
                                         "permission_grant": {"permission_name": "Organization:GetAPIKey", "conditions": {}}}, headers=h)
    assert other.status_code == 201
    got = (await client.get(listing, headers=h)).json()
    assert got["has_more"] is False and got["continuation_token"] is None and len(got["temporary_permission_grants"]) == 2
    first = next(g for g in got["temporary_permission_grants"] if g["_id"] == grant_id)
    assert first["user_id"] == user_id and first["permission_grant"] == body["permission_grant"]
    assert first["creator"] == {"org_id": tenant.org_id, "user_id": tenant.user_id} and first["tags"] == {"ticket": "T 42"}
    assert first["justification"] == "Audit of role setup" and first["org_id"] == tenant.org_id

    by_name = (await client.get(listing + "?permission_grant_name=Role:GetRole", headers=h)).json()["temporary_permission_grants"]
    assert [g["_id"] for g in by_name] == [grant_id]
    by_tag = (await client.get(listing + "?tag=ticket:*", headers=h)).json()["temporary_permission_grants"]
    assert [g["_id"] for g in by_tag] == [grant_id]
    assert (await client.get(listing + "?is_expired=true", headers=h)).json()["temporary_permission_grants"] == []
    ordered = (await client.get(listing + "?sort_by=-expires_at&limit=1", headers=h)).json()
    assert ordered["temporary_permission_grants"][0]["_id"] == other.json()["temporary_permission_grant_id"]
    assert ordered["has_more"] is True and ordered["continuation_token"] == 1
    creator = f"{tenant.org_id},{tenant.user_id}"
    assert len((await client.get(listing + f"?creator={creator}&user_id={user_id}", headers=h)).json()["temporary_permission_grants"]) == 2
    for bad in ("limit=11", "sort_by=justification", "id=nope", "tag=novalue"):
        assert (await client.get(listing + "?" + bad, headers=h)).status_code == 422, bad
    assert (await client.get(listing, headers=user_h)).status_code == 403


async def test_temporary_grant_cannot_exceed_callers_role(client, runtime):
    admin = await make_tenant(runtime.db, client, role="DefaultAdministratorRole")
    user_id = await invite(client, admin, "DefaultUserRole")
    body = {"user_id": user_id, "duration": "PT1H", "justification": "Needs to delete the org", "tags": {},
            "permission_grant": {"permission_name": "Organization:DeleteOrganization", "conditions": {}}}
    assert (await client.post(admin.url("/role/temporary_permission_grant/"), json=body, headers=admin.headers)).status_code == 403
