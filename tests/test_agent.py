"""Agents and agent versions over HTTP, and through the official SDK."""

from __future__ import annotations

from amigo_sdk.errors import ConflictError
from amigo_sdk.generated.model import OrganizationCreateAgentRequest, OrganizationCreateAgentVersionRequest

from tests.support.conversation import AGENT_VERSION
from tests.support.sdk import sdk_client

VERSION = AGENT_VERSION


async def test_agent_lifecycle(client, tenant):
    h = tenant.headers
    r = await client.post(tenant.url("/organization/agent"), json={"agent_name": "Ava"}, headers=h)
    assert r.status_code == 201
    agent_id = r.json()["id"]
    dup = await client.post(tenant.url("/organization/agent"), json={"agent_name": "Ava"}, headers=h)
    assert dup.status_code == 409

    partial = await client.post(tenant.url(f"/organization/agent/{agent_id}/"), json={"initials": "A"}, headers=h)
    assert partial.status_code == 400
    v1 = await client.post(tenant.url(f"/organization/agent/{agent_id}/"), json=VERSION, headers=h)
    assert v1.status_code == 201 and v1.json()["version"] == 1
    wrong = await client.post(tenant.url(f"/organization/agent/{agent_id}/?version=5"), json={"background": "x"}, headers=h)
    assert wrong.status_code == 409
    v2 = await client.post(tenant.url(f"/organization/agent/{agent_id}/?version=2"), json={"background": "New."}, headers=h)
    assert v2.status_code == 201

    versions = (await client.get(tenant.url(f"/organization/agent/{agent_id}/version?version=latest"), headers=h)).json()
    assert [v["version"] for v in versions["agent_versions"]] == [2]
    assert versions["agent_versions"][0]["background"] == "New."
    assert versions["agent_versions"][0]["initials"] == "AV"  # inherited from v1
    ranged = (await client.get(tenant.url(f"/organization/agent/{agent_id}/version?version=1-2&sort_by=%2Bversion"), headers=h)).json()
    assert [v["version"] for v in ranged["agent_versions"]] == [1, 2]

    listed = (await client.get(tenant.url("/organization/agent"), headers=h)).json()
    assert listed["agents"][0]["latest_version"] == 2 and listed["has_more"] is False

    assert (await client.delete(tenant.url(f"/organization/agent/{agent_id}/"), headers=h)).status_code == 200
    assert (await client.delete(tenant.url(f"/organization/agent/{agent_id}/"), headers=h)).status_code == 409


async def test_agent_bad_input(client, tenant, other_tenant):
    h = tenant.headers
    assert (await client.get(tenant.url("/organization/agent/not-an-id/version"), headers=h)).status_code == 422
    assert (await client.get(tenant.url("/organization/agent/" + "a" * 24 + "/version"), headers=h)).status_code == 404
    assert (await client.post(tenant.url("/organization/agent"), json={"agent_name": "  "}, headers=h)).status_code == 422
    bad_lang = {**VERSION, "identity": {**VERSION["identity"], "default_spoken_language": "english"}}
    r = await client.post(tenant.url("/organization/agent"), json={"agent_name": "B"}, headers=h)
    agent_id = r.json()["id"]
    assert (await client.post(tenant.url(f"/organization/agent/{agent_id}/"), json=bad_lang, headers=h)).status_code == 422
    # another organization's admin cannot see it
    assert (await client.get(other_tenant.url(f"/organization/agent/{agent_id}/version"), headers=other_tenant.headers)).status_code == 404
    listed = (await client.get(other_tenant.url("/organization/agent"), headers=other_tenant.headers)).json()
    assert listed["agents"] == []


def test_agent_through_sdk(live_server, sdk_tenant):
    with sdk_client(live_server.base_url, sdk_tenant) as amigo:
        created = amigo.agents.create_agent(OrganizationCreateAgentRequest(agent_name="Sdk agent"))
        amigo.agents.create_agent_version(created.id, OrganizationCreateAgentVersionRequest.model_validate(VERSION))
        versions = amigo.agents.get_agent_versions(created.id)
        assert versions.agent_versions[0].identity.name == "Ava"
        agents = amigo.agents.get_agents()
        assert [a.id for a in agents.agents] == [created.id]
        try:
            amigo.agents.create_agent(OrganizationCreateAgentRequest(agent_name="Sdk agent"))
            raise AssertionError("duplicate name accepted")
        except ConflictError:
            pass
        amigo.agents.delete_agent(created.id)
