"""Users over HTTP (invite, list, search, update, delete, variables, user model, memories, email sign-in) and the SDK."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from amigo_sdk.errors import AuthenticationError, NotFoundError
from amigo_sdk.generated.model import GetUsersParametersQuery, UserCreateInvitedUserRequest, UserUpdateUserInfoRequest
from sqlalchemy import func, select

from tertulia.core.clock import utcnow
from tertulia.core.ids import new_object_id
from tertulia.user.models import User, UserMemory, UserModelEntry
from tests.support.orgs import make_tenant, sign_in
from tests.support.sdk import sdk_client

USER_KEYS = {"org_id", "user_id", "first_name", "last_name", "email", "user_stats", "role", "preferences",
             "nonsensitive_variables", "sensitive_variables", "enable_actions_access"}


async def invite(client, tenant, headers=None, **fields) -> tuple[int, dict]:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": f"u{secrets.token_hex(4)}@example.com",
            "role_name": "DefaultUserRole", **fields}
    r = await client.post(tenant.url("/user/"), json=body, headers=headers or tenant.headers)
    return r.status_code, r.json() if r.content else {}


async def user_headers(client, tenant, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await sign_in(client, tenant, user_id)}"}


async def count_users(runtime, org_id: str) -> int:
    async with runtime.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(User).where(User.org_id == org_id))


async def get_user(client, tenant, user_id: str) -> dict:
    r = await client.get(tenant.url("/user/"), params={"user_id": user_id}, headers=tenant.headers)
    users = r.json()["users"]
    assert len(users) == 1, r.text
    return users[0]


async def test_invite_and_list_shape(client, tenant):
    status, body = await invite(client, tenant, email="Ada@Example.com", first_name="  Ada ",
                                nonsensitive_user_variables={"plan": "gold"}, sensitive_user_variables={"ssn": "123"},
                                user_preferences={"preferred_language": "en", "timezone": "Europe/London"},
                                login_link="https://example.com/login")
    assert status == 201 and body["verify_link"] is None and isinstance(body["user_id"], str)
    user = await get_user(client, tenant, body["user_id"])
    assert set(user) == USER_KEYS
    assert user["first_name"] == "Ada" and user["org_id"] == tenant.org_id and user["role"] == tenant.role_ids["DefaultUserRole"]
    assert user["user_stats"] == {"num_conversations": 0, "num_messages": 0, "last_message_time": None}
    assert user["preferences"] == {"enable_response_recommendation": False, "preferred_language": "en",
                                   "conversations_visible_to_admins": True, "user_model_visible_to_admins": True,
                                   "timezone": "Europe/London", "audio_keyterms": []}
    assert user["nonsensitive_variables"] == {"plan": "gold"} and user["sensitive_variables"] == ["ssn"]
    assert user["enable_actions_access"] is False


async def test_invite_errors_change_nothing(client, runtime, tenant):
    before = await count_users(runtime, tenant.org_id)
    assert (await invite(client, tenant, role_name="NoSuchRole"))[0] == 404
    assert (await invite(client, tenant, email="not-an-email"))[0] == 422
    assert (await invite(client, tenant, first_name="   "))[0] == 422
    assert (await invite(client, tenant, nonsensitive_user_variables={"user_id": "x"}))[0] == 422
    assert (await invite(client, tenant, nonsensitive_user_variables={"Bad-Name": "x"}))[0] == 422
    assert (await invite(client, tenant, user_preferences={"preferred_language": "klingon"}))[0] == 422
    assert await count_users(runtime, tenant.org_id) == before
    assert (await invite(client, tenant, email="new-field@example.com", unexpected="x"))[0] == 201  # ignored
    before += 1
    assert (await invite(client, tenant, email="dup@example.com"))[0] == 201
    assert (await invite(client, tenant, email="DUP@example.com"))[0] == 409
    assert await count_users(runtime, tenant.org_id) == before + 1


async def test_invite_bounded_by_callers_role(client, runtime):
    admin = await make_tenant(runtime.db, client, role="DefaultAdministratorRole")
    assert (await invite(client, admin, role_name="DefaultSuperAdministratorRole"))[0] == 403
    assert (await invite(client, admin, role_name="DefaultAdministratorRole"))[0] == 201
    status, body = await invite(client, admin)
    h = await user_headers(client, admin, body["user_id"])
    assert (await invite(client, admin, headers=h))[0] == 403  # DefaultUserRole cannot invite


async def test_list_filters_sort_and_paging(client, tenant):
    h = tenant.headers
    ids = {}
    for first, last in (("Carla", "Zed"), ("Bruno", "Young"), ("Alba", "Xu")):
        ids[first] = (await invite(client, tenant, first_name=first, last_name=last, email=f"{first.lower()}@example.com"))[1]["user_id"]
    both = await client.get(tenant.url("/user/"), params=[("user_id", ids["Carla"]), ("user_id", ids["Alba"])], headers=h)
    assert {u["user_id"] for u in both.json()["users"]} == {ids["Carla"], ids["Alba"]}
    by_email = await client.get(tenant.url("/user/"), params=[("email", "bruno@example.com"), ("email", "alba@example.com")], headers=h)
    assert {u["first_name"] for u in by_email.json()["users"]} == {"Bruno", "Alba"}
    asc = (await client.get(tenant.url("/user/?sort_by=%2Bfirst_name"), headers=h)).json()["users"]
    assert [u["first_name"] for u in asc] == ["Admin", "Alba", "Bruno", "Carla"]
    desc = (await client.get(tenant.url("/user/?sort_by=-last_name"), headers=h)).json()["users"]
    assert [u["last_name"] for u in desc][:3] == ["Zed", "Young", "Xu"]
    spaced = (await client.get(tenant.url("/user/?sort_by=+email&sort_by=-user_stats.num_messages"), headers=h)).json()["users"]
    assert [u["email"] for u in spaced] == sorted(u["email"] for u in spaced)
    page1 = (await client.get(tenant.url("/user/?limit=2&sort_by=%2Bemail"), headers=h)).json()
    assert page1["has_more"] is True and page1["continuation_token"] == 2 and len(page1["users"]) == 2
    page2 = (await client.get(tenant.url("/user/?limit=2&continuation_token=2&sort_by=%2Bemail"), headers=h)).json()
    assert page2["has_more"] is False and page2["continuation_token"] is None and len(page2["users"]) == 2
    for bad in ("limit=101", "limit=-1", "sort_by=password", "email=nope", "continuation_token=x"):
        assert (await client.get(tenant.url(f"/user/?{bad}"), headers=h)).status_code == 422, bad


async def test_search_users(client, tenant):
    h = tenant.headers
    a = (await invite(client, tenant, first_name="Marisol", last_name="Quintana", email="mq@example.com"))[1]["user_id"]
    b = (await invite(client, tenant, first_name="Tomas", last_name="Ruiz", email="tomas.quin@example.org"))[1]["user_id"]
    r = await client.get(tenant.url("/user/search/?query=QUIN"), headers=h)
    assert r.status_code == 200
    users = r.json()["users"]
    assert {u["user_id"] for u in users} == {a, b} and "enable_actions_access" not in users[0]
    assert set(users[0]) == USER_KEYS - {"enable_actions_access"}
    full = (await client.get(tenant.url("/user/search/?query=marisol quin"), headers=h)).json()["users"]
    assert [u["user_id"] for u in full] == [a]
    only_b = (await client.get(tenant.url(f"/user/search/?query=quin&user_id={b}"), headers=h)).json()["users"]
    assert [u["user_id"] for u in only_b] == [b]
    assert (await client.get(tenant.url("/user/search/?query=%25"), headers=h)).json()["users"] == []
    assert (await client.get(tenant.url("/user/search/"), headers=h)).status_code == 422


async def test_sign_in_with_email_is_silent(client, tenant):
    body = {"redirect_link": "https://app.example.com/", "email": "nobody@example.com"}
    assert (await client.post(tenant.url("/user/signin"), json=body)).status_code == 200
    known = (await client.get(tenant.url("/user/"), headers=tenant.headers)).json()["users"][0]["email"]
    assert (await client.post(tenant.url("/user/signin"), json={**body, "email": known})).status_code == 200
    assert (await client.post("/v1/no-such-org/user/signin", json=body)).status_code == 404
    assert (await client.post(tenant.url("/user/signin"), json={"email": "x@example.com"})).status_code == 422


async def test_update_user_info_not_set_semantics(client, tenant):
    h = tenant.headers
    uid = (await invite(client, tenant, user_preferences={"preferred_language": "eng", "timezone": "Asia/Tokyo"}))[1]["user_id"]
    url = tenant.url(f"/user/{uid}")
    r = await client.post(url, json={"first_name": "Grace", "preferred_language": {}, "timezone": {}}, headers=h)
    assert r.status_code == 204 and r.content == b""
    user = await get_user(client, tenant, uid)
    assert user["first_name"] == "Grace" and user["last_name"] == "Lovelace"
    assert user["preferences"]["preferred_language"] == "eng" and user["preferences"]["timezone"] == "Asia/Tokyo"
    r = await client.post(url, json={"timezone": None, "enable_response_recommendation": True, "audio_keyterms": ["amigo app"],
                                     "additional_context": ["Prefers mornings."], "user_model_visible_to_admins": False}, headers=h)
    assert r.status_code == 204
    prefs = (await get_user(client, tenant, uid))["preferences"]
    assert prefs == {"enable_response_recommendation": True, "preferred_language": "eng", "conversations_visible_to_admins": True,
                     "user_model_visible_to_admins": False, "timezone": None, "audio_keyterms": ["amigo app"]}
    assert (await client.post(url, json={"preferred_language": "fra"}, headers=h)).status_code == 204
    assert (await get_user(client, tenant, uid))["preferences"]["preferred_language"] == "fra"

    for bad in ({"preferred_language": "french"}, {"timezone": "Nowhere/City"},
                {"first_name": ""}, {"audio_keyterms": ["UPPER"]}):
        assert (await client.post(url, json=bad, headers=h)).status_code == 422, bad
    # unknown keys are ignored, also inside _NotSet (the spec's object schemas allow additional properties)
    for ignored in ({"preferred_language": {"x": 1}}, {"bogus": True}):
        assert (await client.post(url, json=ignored, headers=h)).status_code == 204, ignored
    assert (await get_user(client, tenant, uid))["preferences"] == {**prefs, "preferred_language": "fra"}
    assert (await client.post(tenant.url("/user/non-existent-id"), json={"first_name": "X"}, headers=h)).status_code == 404


async def test_user_role_sees_and_edits_only_itself(client, tenant):
    me = (await invite(client, tenant))[1]["user_id"]
    other = (await invite(client, tenant))[1]["user_id"]
    h = await user_headers(client, tenant, me)
    listed = (await client.get(tenant.url("/user/"), headers=h)).json()["users"]
    assert [u["user_id"] for u in listed] == [me]
    assert (await client.get(tenant.url(f"/user/?user_id={other}"), headers=h)).json()["users"] == []
    assert (await client.get(tenant.url("/user/search/?query=lovelace"), headers=h)).json()["users"][0]["user_id"] == me
    assert (await client.post(tenant.url(f"/user/{me}"), json={"first_name": "Me"}, headers=h)).status_code == 204
    assert (await client.post(tenant.url(f"/user/{other}"), json={"first_name": "Hacked"}, headers=h)).status_code == 403
    assert (await client.post(tenant.url(f"/user/{other}/variable"), json={"deletes": []}, headers=h)).status_code == 403
    assert (await client.get(tenant.url(f"/user/{me}/user_model"), headers=h)).status_code == 200
    assert (await client.get(tenant.url(f"/user/{other}/user_model"), headers=h)).status_code == 403
    assert (await client.delete(tenant.url(f"/user/{other}"), headers=h)).status_code == 403
    assert (await get_user(client, tenant, other))["first_name"] == "Ada"


async def test_delete_user(client, runtime, tenant):
    h = tenant.headers
    uid = (await invite(client, tenant))[1]["user_id"]
    token = await user_headers(client, tenant, uid)
    async with runtime.db.sessions() as session:
        session.add(UserMemory(org_id=tenant.org_id, user_id=uid, conversation_id=new_object_id(), content="Likes tea."))
        await session.commit()
    r = await client.delete(tenant.url(f"/user/{uid}"), headers=h)
    assert r.status_code == 204 and r.content == b""
    assert (await client.delete(tenant.url(f"/user/{uid}"), headers=h)).status_code == 404
    assert (await client.get(tenant.url(f"/user/?user_id={uid}"), headers=h)).json()["users"] == []
    assert (await client.get(tenant.url("/user/"), headers=token)).status_code == 401
    async with runtime.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(UserMemory).where(UserMemory.user_id == uid)) == 0
    # an administrator cannot delete a more privileged user, and another organization's id is unknown (404)
    admin_id = (await invite(client, tenant, role_name="DefaultAdministratorRole"))[1]["user_id"]
    admin_h = await user_headers(client, tenant, admin_id)
    assert (await client.delete(tenant.url(f"/user/{tenant.user_id}"), headers=admin_h)).status_code == 403
    other = await make_tenant(runtime.db, client)
    assert (await client.delete(other.url(f"/user/{admin_id}"), headers=other.headers)).status_code == 404
    assert (await get_user(client, tenant, admin_id))["user_id"] == admin_id
    assert (await client.delete(tenant.url(f"/user/{admin_id}"), headers=admin_h)).status_code == 204  # itself


async def test_user_model_and_memories(client, runtime, tenant):
    h = tenant.headers
    uid = (await invite(client, tenant))[1]["user_id"]
    conv_a, conv_b = new_object_id(), new_object_id()
    now = utcnow()
    async with runtime.db.sessions() as session:
        session.add(UserModelEntry(org_id=tenant.org_id, user_id=uid, content="Runs at dawn.", insight_ids=["i1"],
                                   dimensions=[{"description": "Fitness", "tags": ["running"]}]))
        for i, conv in enumerate((conv_a, conv_a, conv_b)):
            session.add(UserMemory(org_id=tenant.org_id, user_id=uid, conversation_id=conv, references=[new_object_id()],
                                   content=f"fact {i}", context="ctx", created_at=now + timedelta(seconds=i)))
        await session.commit()
    await client.post(tenant.url(f"/user/{uid}"), json={"additional_context": ["VIP"]}, headers=h)
    model = (await client.get(tenant.url(f"/user/{uid}/user_model"), headers=h)).json()
    assert model == {"user_models": [{"content": "Runs at dawn.", "insight_ids": ["i1"],
                                      "dimensions": [{"description": "Fitness", "tags": ["running"]}]}],
                     "additional_context": ["VIP"]}
    assert (await client.get(tenant.url("/user/non-existent-id/user_model"), headers=h)).status_code == 404

    mem = (await client.get(tenant.url(f"/user/{uid}/memory?sort_by=%2Bcreated_at&limit=2"), headers=h)).json()
    assert [m["content"] for m in mem["memories"]] == ["fact 0", "fact 1"] and mem["has_more"] and mem["continuation_token"] == 2
    assert set(mem["memories"][0]) == {"id", "created_at", "conversation_id", "references", "content", "context"}
    rest = (await client.get(tenant.url(f"/user/{uid}/memory?sort_by=%2Bcreated_at&limit=2&continuation_token=2"), headers=h)).json()
    assert [m["content"] for m in rest["memories"]] == ["fact 2"] and rest["continuation_token"] is None
    by_conv = (await client.get(tenant.url(f"/user/{uid}/memory?conversation_id={conv_b}"), headers=h)).json()["memories"]
    assert [m["content"] for m in by_conv] == ["fact 2"]
    one = mem["memories"][1]["id"]
    assert [m["id"] for m in (await client.get(tenant.url(f"/user/{uid}/memory?id={one}"), headers=h)).json()["memories"]] == [one]
    assert (await client.get(tenant.url(f"/user/{uid}/memory?id=nope"), headers=h)).status_code == 422
    assert (await client.get(tenant.url(f"/user/{uid}/memory?limit=51"), headers=h)).status_code == 422
    assert (await client.get(tenant.url(f"/user/{uid}/memory?sort_by=content"), headers=h)).status_code == 422
    assert (await client.get(tenant.url("/user/ghost/memory"), headers=h)).status_code == 404
    # the user sees its own memories; another DefaultUserRole user sees none of them
    own = (await client.get(tenant.url(f"/user/{uid}/memory"), headers=await user_headers(client, tenant, uid))).json()
    assert len(own["memories"]) == 3
    stranger = (await invite(client, tenant))[1]["user_id"]
    peek = await client.get(tenant.url(f"/user/{uid}/memory"), headers=await user_headers(client, tenant, stranger))
    assert peek.json()["memories"] == []


async def test_modify_user_variables(client, tenant):
    h = tenant.headers
    uid = (await invite(client, tenant, nonsensitive_user_variables={"plan": "gold"}))[1]["user_id"]
    url = tenant.url(f"/user/{uid}/variable")
    r = await client.post(url, json={"upserts": [{"name": "city", "value": "Lima", "is_secret": False},
                                                 {"name": "token", "value": "s3cret", "is_secret": True}],
                                     "deletes": [{"name": "plan"}]}, headers=h)
    assert r.status_code == 204
    user = await get_user(client, tenant, uid)
    assert user["nonsensitive_variables"] == {"city": "Lima"} and user["sensitive_variables"] == ["token"]

    assert (await client.post(url, json={"deletes": [{"name": "missing"}], "upserts": [{"name": "x_1", "value": "v", "is_secret": False}]},
                              headers=h)).status_code == 400
    many = [{"name": f"v_{i}", "value": "x", "is_secret": False} for i in range(20)]
    assert (await client.post(url, json={"upserts": many}, headers=h)).status_code == 400
    assert (await client.post(url, json={"upserts": [{"name": "user_id", "value": "x", "is_secret": False}]}, headers=h)).status_code == 422
    assert (await client.post(url, json={"upserts": [{"name": "ok_name", "value": "", "is_secret": False}]}, headers=h)).status_code == 422
    assert (await client.post(url, json={"upserts": [{"name": "ok_name", "value": "x" * 256, "is_secret": True}]}, headers=h)).status_code == 422
    assert await get_user(client, tenant, uid) == user  # nothing changed
    assert (await client.post(tenant.url("/user/ghost/variable"), json={}, headers=h)).status_code == 404


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_users_through_sdk(live_server, sdk_tenant):
    email = f"sdk{secrets.token_hex(4)}@example.com"
    with sdk_client(live_server.base_url, sdk_tenant) as amigo:
        created = amigo.users.create(UserCreateInvitedUserRequest(first_name="Sdk", last_name="User", email=email,
                                                                  role_name="DefaultUserRole"))
        uid = created.user_id
        assert [u.user_id for u in amigo.users.list(GetUsersParametersQuery(user_id=[uid])).users] == [uid]
        assert [u.user_id for u in amigo.users.get_users(GetUsersParametersQuery(email=[email])).users] == [uid]
        amigo.users.update(uid, UserUpdateUserInfoRequest(first_name="Renamed", preferred_language={}, timezone={}))
        listed = amigo.users.list(GetUsersParametersQuery(user_id=[uid])).users[0]
        assert listed.first_name == "Renamed"
        model = amigo.users.get_user_model(sdk_tenant.user_id)
        assert model.user_models == [] and model.additional_context == []
        with pytest.raises(NotFoundError):
            amigo.users.create(UserCreateInvitedUserRequest(first_name="A", last_name="B", email="x" + email, role_name="NoSuchRole"))
        with pytest.raises(NotFoundError):
            amigo.users.update("non-existent-id", UserUpdateUserInfoRequest(first_name="X"))
        with pytest.raises(NotFoundError):
            amigo.users.get_user_model("non-existent-id")
        amigo.users.delete(uid)
        assert amigo.users.list(GetUsersParametersQuery(user_id=[uid])).users == []
        with pytest.raises(NotFoundError):
            amigo.users.delete("non-existent-id")
    sdk_tenant.org_id = "missing-" + secrets.token_hex(3)
    with sdk_client(live_server.base_url, sdk_tenant) as amigo, pytest.raises(AuthenticationError):
        amigo.users.list()
