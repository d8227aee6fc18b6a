"""Organization endpoints over HTTP (public read, provisioning, modify, delete, user dimensions) and the SDK."""

from __future__ import annotations

import base64
import secrets

import pytest
from amigo_sdk.errors import AuthenticationError
from sqlalchemy import select

from tertulia.role.models import Role
from tertulia.user.models import User
from tests.support.orgs import make_tenant, sign_in
from tests.support.sdk import sdk_client

PNG = base64.b64encode(b"\x89PNG fake image bytes").decode()
NEW_ORG = {
    "org_name": "Brand new",
    "user_dimensions": [{"description": "Goals", "tags": ["fitness"]}],
    "logo": PNG,
    "square_logo": PNG,
    "favicon": PNG,
    "default_user_preferences": {"preferred_language": "spa", "timezone": "Europe/Madrid"},
    "azure_devops_team_name": "brand-new",
}


async def user_token(client, tenant, role_name: str = "DefaultUserRole") -> tuple[str, dict[str, str]]:
    """Invite a user with ``role_name`` and sign in as them with the tenant's key."""
    email = f"u{secrets.token_hex(4)}@example.com"
    r = await client.post(tenant.url("/user/"), headers=tenant.headers,
                          json={"first_name": "Ursula", "last_name": "User", "email": email, "role_name": role_name})
    assert r.status_code == 201, r.text
    user_id = r.json()["user_id"]
    return user_id, {"Authorization": f"Bearer {await sign_in(client, tenant, user_id)}"}


async def test_get_organization_is_public_and_details_need_permission(client, tenant):
    anon = await client.get(tenant.url("/organization/"))
    assert anon.status_code == 200
    assert anon.json() == {"org_id": tenant.org_id, "org_name": f"Org {tenant.org_id}",
                           "default_user_preferences": None, "tenant_id": None}
    admin = (await client.get(tenant.url("/organization/"), headers=tenant.headers)).json()
    assert admin["tenant_id"] == tenant.org_id
    assert admin["default_user_preferences"] == {
        "enable_response_recommendation": False, "preferred_language": None, "conversations_visible_to_admins": True,
        "user_model_visible_to_admins": True, "timezone": None, "audio_keyterms": [],
    }
    _, user_headers = await user_token(client, tenant)
    plain = (await client.get(tenant.url("/organization/"), headers=user_headers)).json()
    assert plain["default_user_preferences"] is None and plain["tenant_id"] is None
    assert (await client.get("/v1/no-such-org/organization/")).status_code == 404
    bad = await client.get(tenant.url("/organization/"), headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401


async def test_create_organization_provisions_roles_and_super_user(client, runtime, tenant):
    new_id = "neworg" + secrets.token_hex(4)
    cross = {**tenant.headers, "X-ORG-ID": tenant.org_id, "x-mongo-cluster-name": "main"}
    url = f"/v1/{new_id}/organization/"

    missing = {k: v for k, v in NEW_ORG.items() if k != "logo"}
    assert (await client.put(url, json=missing, headers=cross)).status_code == 422
    assert (await client.put(url, json={**NEW_ORG, "logo": "***"}, headers=cross)).status_code == 422
    assert (await client.get(url)).status_code == 404  # bad input changed nothing
    assert (await client.put(url, json=NEW_ORG, headers=tenant.headers)).status_code == 401  # no X-ORG-ID: foreign token

    r = await client.put(url, json=NEW_ORG, headers=cross)
    assert r.status_code == 201 and r.json() == {"org_id": new_id}
    assert (await client.get(url)).json()["org_name"] == "Brand new"
    async with runtime.db.sessions() as session:
        names = {r.name for r in await session.scalars(select(Role).where(Role.org_id == new_id))}
        admin = await session.scalar(select(User).where(User.org_id == new_id))
    assert names == {"DefaultUserRole", "DefaultAdministratorRole", "DefaultAmigoAdministratorRole", "DefaultSuperAdministratorRole"}
    assert admin.email == "admin@amigo.ai" and admin.preferences["preferred_language"] == "spa"

    assert (await client.put(url, json=NEW_ORG, headers=cross)).status_code == 409
    assert (await client.put(tenant.url("/organization/"), json=NEW_ORG, headers=tenant.headers)).status_code == 409
    reserved = await client.put("/v1/admin/organization/", json=NEW_ORG, headers={**tenant.headers, "X-ORG-ID": tenant.org_id})
    assert reserved.status_code == 400


async def test_create_and_delete_organization_need_their_permissions(client, runtime, tenant):
    admin = await make_tenant(runtime.db, client, role="DefaultAdministratorRole")
    cross = {**admin.headers, "X-ORG-ID": admin.org_id}
    new_id = "neworg" + secrets.token_hex(4)
    assert (await client.put(f"/v1/{new_id}/organization/", json=NEW_ORG, headers=cross)).status_code == 403
    assert (await client.delete(admin.url("/organization/"), headers=admin.headers)).status_code == 403
    assert (await client.get(f"/v1/{new_id}/organization/")).status_code == 404
    assert (await client.get(admin.url("/organization/"))).status_code == 200


async def test_modify_organization_and_user_dimensions(client, tenant):
    h = tenant.headers
    assert (await client.get(tenant.url("/organization/user_dimensions/"), headers=h)).json() == {"user_dimensions": []}
    dims = [{"description": "Sleep habits", "tags": ["sleep", "rest"]}]
    prefs = {"preferred_language": "fra", "timezone": "Europe/Paris", "audio_keyterms": ["tertulia"]}
    r = await client.post(tenant.url("/organization/"), json={"user_dimensions": dims, "default_user_preferences": prefs}, headers=h)
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(tenant.url("/organization/user_dimensions/"), headers=h)).json() == {"user_dimensions": dims}
    got = (await client.get(tenant.url("/organization/"), headers=h)).json()["default_user_preferences"]
    assert got["preferred_language"] == "fra" and got["timezone"] == "Europe/Paris" and got["conversations_visible_to_admins"] is True

    # a new user without explicit preferences inherits the organization's defaults
    r = await client.post(tenant.url("/user/"), headers=h,
                          json={"first_name": "A", "last_name": "B", "email": "inherit@example.com", "role_name": "DefaultUserRole"})
    user_id = r.json()["user_id"]
    listed = (await client.get(tenant.url(f"/user/?user_id={user_id}"), headers=h)).json()["users"][0]
    assert listed["preferences"]["preferred_language"] == "fra"

    for bad in ({"user_dimensions": []}, {"default_user_preferences": {"preferred_language": "french"}},
                {"default_user_preferences": {"timezone": "Mars/Olympus"}}, {"logo": "%%%"}, {"logo": ""}):
        assert (await client.post(tenant.url("/organization/"), json=bad, headers=h)).status_code == 422, bad
    assert (await client.get(tenant.url("/organization/user_dimensions/"), headers=h)).json() == {"user_dimensions": dims}
    # null means "leave unchanged"
    assert (await client.post(tenant.url("/organization/"), json={"user_dimensions": None}, headers=h)).status_code == 204
    assert (await client.get(tenant.url("/organization/user_dimensions/"), headers=h)).json() == {"user_dimensions": dims}


async def test_user_role_cannot_modify_or_read_dimensions(client, tenant):
    _, user_headers = await user_token(client, tenant)
    assert (await client.post(tenant.url("/organization/"), json={}, headers=user_headers)).status_code == 403
    assert (await client.get(tenant.url("/organization/user_dimensions/"), headers=user_headers)).status_code == 403


async def test_delete_organization_removes_it_and_its_credentials(client, runtime, tenant, other_tenant):
    from sqlalchemy import delete, func, select

    from tertulia.jobs.models import Job
    from tertulia.jobs.registry import JobContext, lookup
    from tertulia.models import load_all
    from tertulia.organization.cleanup import PURGE_BLOBS
    from tertulia.speech.blobs import message_key
    from tests.support.conversation import make_service, start

    svc = await make_service(client, tenant)
    await start(client, tenant, svc.service_id)
    other_svc = await make_service(client, other_tenant)
    mine = message_key(tenant.org_id, "c" * 24, "a" * 24, "audio/wav")
    theirs = message_key(other_tenant.org_id, "c" * 24, "b" * 24, "audio/mpeg")
    await runtime.blobs.put(mine, b"RIFF-mine", "audio/wav")
    await runtime.blobs.put(theirs, b"ID3-theirs", "audio/mpeg")
    r = await client.delete(tenant.url("/organization/"), headers=tenant.headers)
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(tenant.url("/organization/"))).status_code == 404
    assert (await client.get(tenant.url("/user/"), headers=tenant.headers)).status_code == 401
    signin = await client.post(tenant.url("/user/signin_with_api_key"),
                               headers={"x-api-key": tenant.api_key, "x-api-key-id": tenant.api_key_id, "x-user-id": tenant.user_id})
    assert signin.status_code == 404
    # the other organization is untouched
    assert (await client.get(other_tenant.url("/user/"), headers=other_tenant.headers)).status_code == 200
    services = (await client.get(other_tenant.url("/service/"), headers=other_tenant.headers)).json()["services"]
    assert [s["id"] for s in services] == [other_svc.service_id]
    # and no table keeps a row of the deleted one (agents, graphs, services, conversations, messages, ...)
    async with runtime.db.sessions() as session:
        for table in load_all().metadata.sorted_tables:
            if "org_id" in table.c:
                left = await session.scalar(select(func.count()).select_from(table).where(table.c.org_id == tenant.org_id))
                assert left == 0, table.name
        # its stored audio goes through a cluster-wide job queued with the deletion
        job = await session.scalar(select(Job).where(Job.dedupe_key == f"{PURGE_BLOBS}:{tenant.org_id}"))
    assert job is not None and job.org_id is None
    try:  # run it here (a worker elsewhere may also have: the purge is idempotent)
        await lookup(PURGE_BLOBS).handler(JobContext(runtime, job))
        await lookup(PURGE_BLOBS).handler(JobContext(runtime, job))  # a retry after a crash is harmless
    finally:
        async with runtime.db.sessions() as session:
            await session.execute(delete(Job).where(Job.id == job.id))
            await session.commit()
    assert await runtime.blobs.get(mine) is None
    assert (await runtime.blobs.get(theirs)).data == b"ID3-theirs"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_organization_through_sdk(live_server, sdk_tenant):
    with sdk_client(live_server.base_url, sdk_tenant) as amigo:
        org = amigo.organizations.get()
        assert org.org_id == sdk_tenant.org_id
        assert org.default_user_preferences is not None and org.default_user_preferences.conversations_visible_to_admins
        assert org.tenant_id == sdk_tenant.org_id
    sdk_tenant.org_id = "no-such-org-" + secrets.token_hex(3)
    with sdk_client(live_server.base_url, sdk_tenant) as amigo, pytest.raises(AuthenticationError):
        amigo.organizations.get()
