"""Tenancy and authorization across every operation the app serves (discovered from ``app.routes``, so domains
are covered as they land): no credentials, a foreign organization's token, a DefaultUserRole caller on
admin-only operations, and cross-organization ids."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute

from tertulia.auth.permissions import DEFAULT_ROLES
from tests.support.orgs import sign_in

FAKE_ID = "0123456789abcdef01234567"
PUBLIC = {("GET", "/v1/{organization}/organization/"), ("POST", "/v1/{organization}/user/signin"),
          ("POST", "/v1/{organization}/user/signin_with_api_key")}
USER_ROLE_PERMISSIONS = {g["permission_name"] for g in DEFAULT_ROLES["DefaultUserRole"]["permission_grants"]}


def _route_entries(app) -> Iterator[tuple[APIRoute, str]]:
    try:  # FastAPI versions that keep included routers lazily expose their effective routes this way
        from fastapi.routing import iter_route_contexts
    except ImportError:
        for route in app.routes:
            yield route, getattr(route, "path", "")
        return
    for ctx in iter_route_contexts(app.routes):
        yield ctx.original_route, ctx.path


def operations(app) -> list[tuple[str, str, APIRoute]]:
    ops = []
    for route, path in _route_entries(app):
        if isinstance(route, APIRoute) and path.startswith("/v1/{organization}/"):
            ops.extend((method, path, route) for method in sorted(route.methods))
    assert len(ops) > 30, "route discovery found too few operations"
    return ops


def required_permissions(route: APIRoute) -> set[str]:
    """Permission names of the ``require(...)`` dependencies anywhere in the route's dependency tree."""
    found: set[str] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        found.update(getattr(dep.call, "permissions", ()))
        stack.extend(dep.dependencies)
    return found


def concrete(path: str, org_id: str) -> str:
    return re.sub(r"\{[^}]+\}", FAKE_ID, path.replace("{organization}", org_id))


def label(method: str, path: str, route: APIRoute) -> str:
    return f"{method} {path} ({route.operation_id})"


async def call(client, method: str, url: str, headers: dict[str, str]):
    return await client.request(method, url, headers=headers)


async def test_no_credentials_is_401_except_public_operations(app, client, tenant):
    failures = []
    for method, path, route in operations(app):
        if (method, path) in PUBLIC:
            continue
        r = await call(client, method, concrete(path, tenant.org_id), {})
        if r.status_code != 401:
            failures.append(f"{label(method, path, route)} -> {r.status_code}")
    assert not failures, "\n".join(failures)


async def test_public_operations_answer_without_credentials(client, tenant):
    assert (await client.get(tenant.url("/organization/"))).status_code == 200
    r = await client.post(tenant.url("/user/signin"), json={"redirect_link": "https://x.example.com/", "email": "a@example.com"})
    assert r.status_code == 200


async def test_foreign_organization_token_is_401_everywhere(app, client, tenant, other_tenant):
    failures = []
    for method, path, route in operations(app):
        if method == "POST" and path.endswith(("/user/signin", "/user/signin_with_api_key")):
            continue  # they take no token
        r = await call(client, method, concrete(path, other_tenant.org_id), tenant.headers)
        if r.status_code != 401:
            failures.append(f"{label(method, path, route)} -> {r.status_code}")
    assert not failures, "\n".join(failures)


async def test_user_role_gets_403_on_admin_only_operations(app, client, tenant):
    r = await client.post(tenant.url("/user/"), headers=tenant.headers, json={
        "first_name": "Plain", "last_name": "User", "email": f"p{secrets.token_hex(4)}@example.com", "role_name": "DefaultUserRole"})
    user_headers = {"Authorization": f"Bearer {await sign_in(client, tenant, r.json()['user_id'])}"}
    checked, failures = [], []
    for method, path, route in operations(app):
        needed = required_permissions(route)
        if not needed or needed <= USER_ROLE_PERMISSIONS:
            continue
        checked.append(route.operation_id)
        r = await call(client, method, concrete(path, tenant.org_id), user_headers)
        if r.status_code != 403:
            failures.append(f"{label(method, path, route)} needs {sorted(needed)} -> {r.status_code}")
    assert not failures, "\n".join(failures)
    must_cover = {"create-role", "get_roles_v1__organization__role__get", "modify-role", "create-temporary-permission-grant",
                  "get-temporary-permission-grants", "create-api-key", "get-api-keys", "delete-api-key",
                  "create-invited-user", "modify-organization", "delete-organization", "get-user-dimensions"}
    assert must_cover <= set(checked), must_cover - set(checked)
    families = {"agent": "create-agent", "context graph": "create-service-hierarchical-state-machine", "service": "create-service"}
    served = {route.operation_id for _, _, route in operations(app)}
    for family, op in families.items():
        if op in served:
            assert op in checked, f"{family} operations are not admin-only"


async def test_another_organizations_ids_answer_404_never_data(client, tenant, other_tenant):
    h, b = tenant.headers, other_tenant.headers
    # org B: a user, a role, an API key
    r = await client.post(other_tenant.url("/user/"), headers=b, json={
        "first_name": "Bea", "last_name": "B", "email": "bea@example.com", "role_name": "DefaultUserRole"})
    b_user = r.json()["user_id"]
    b_role = (await client.post(other_tenant.url("/role/"), headers=b, json={
        "role_name": "OnlyInB", "description": "B's role.", "permission_grants": [], "frontend_view": "client"})).json()["role_id"]
    b_key = (await client.post(other_tenant.url("/organization/api_key/"), headers=b,
                               json={"name": "b", "duration": "P2D"})).json()["api_key_id"]

    assert (await client.get(tenant.url(f"/user/?user_id={b_user}"), headers=h)).json()["users"] == []
    assert (await client.get(tenant.url("/user/?email=bea@example.com"), headers=h)).json()["users"] == []
    assert (await client.get(tenant.url("/user/search/?query=bea"), headers=h)).json()["users"] == []
    assert (await client.post(tenant.url(f"/user/{b_user}"), json={"first_name": "Owned"}, headers=h)).status_code == 404
    assert (await client.post(tenant.url(f"/user/{b_user}/variable"), json={}, headers=h)).status_code == 404
    assert (await client.get(tenant.url(f"/user/{b_user}/user_model"), headers=h)).status_code == 404
    assert (await client.get(tenant.url(f"/user/{b_user}/memory"), headers=h)).status_code == 404
    assert (await client.delete(tenant.url(f"/user/{b_user}"), headers=h)).status_code == 404
    assert (await client.post(tenant.url("/role/DefaultUserRole/assign"), json={"user_id": b_user}, headers=h)).status_code == 404
    grant = {"user_id": b_user, "duration": "PT1H", "justification": "cross-org attempt", "tags": {},
             "permission_grant": {"permission_name": "Role:GetRole", "conditions": {}}}
    assert (await client.post(tenant.url("/role/temporary_permission_grant/"), json=grant, headers=h)).status_code == 404
    assert (await client.get(tenant.url(f"/role/temporary_permission_grants/?user_id={b_user}"), headers=h)).json()[
        "temporary_permission_grants"] == []

    assert (await client.get(tenant.url(f"/role/?id={b_role}"), headers=h)).json()["roles"] == []
    assert (await client.post(tenant.url("/role/OnlyInB"), json={"description": "mine"}, headers=h)).status_code == 404
    assert (await client.post(tenant.url("/role/OnlyInB/assign"), json={"user_id": tenant.user_id}, headers=h)).status_code == 404

    assert b_key not in (await client.get(tenant.url("/organization/api_key/"), headers=h)).text
    assert (await client.delete(tenant.url(f"/organization/api_key/{b_key}/"), headers=h)).status_code == 404

    # and org B still has everything, unchanged
    user = (await client.get(other_tenant.url(f"/user/?user_id={b_user}"), headers=b)).json()["users"][0]
    assert user["first_name"] == "Bea"
    assert b_key in (await client.get(other_tenant.url("/organization/api_key/"), headers=b)).text
    assert [x["description"] for x in (await client.get(other_tenant.url(f"/role/?id={b_role}"), headers=b)).json()["roles"]] == ["B's role."]


@pytest.mark.parametrize("org_id", ["no-such-org"])
async def test_unknown_organization(client, tenant, org_id):
    assert (await client.get(f"/v1/{org_id}/organization/")).status_code == 404
    assert (await client.get(f"/v1/{org_id}/user/", headers=tenant.headers)).status_code == 401
