"""Both spellings of every path are served (no redirects), and a literal route beats a parameterised one."""

from __future__ import annotations


async def test_paths_are_served_with_and_without_trailing_slash(client, tenant):
    h = tenant.headers
    for path in ("/organization/agent", "/organization/agent/", "/user/", "/user", "/service/", "/service"):
        r = await client.get(tenant.url(path), headers=h)
        assert r.status_code == 200, (path, r.status_code, r.text)


async def test_literal_route_wins_over_parameter_for_the_other_spelling(client, tenant):
    # POST /role/temporary_permission_grant (no slash) must reach create-temporary-permission-grant, not modify-role.
    body = {
        "user_id": tenant.user_id,
        "permission_grant": {"permission_name": "Conversation:GetMessage", "conditions": {}},
        "duration": "PT1H",
        "justification": "Investigating a support ticket.",
        "tags": {},
    }
    r = await client.post(tenant.url("/role/temporary_permission_grant"), json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    listed = await client.get(tenant.url("/role/temporary_permission_grants"), headers=tenant.headers)
    assert listed.status_code == 200
    assert len(listed.json()["temporary_permission_grants"]) == 1


async def test_unknown_path_is_404_not_500(client, tenant):
    r = await client.get(tenant.url("/no/such/thing"), headers=tenant.headers)
    assert r.status_code == 404
