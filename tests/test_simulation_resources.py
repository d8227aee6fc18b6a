"""Simulation personas, scenarios, unit tests and unit test sets over HTTP: create, list (filters, paging,
filter_values), search, versions, update, delete rules, bad input, other organizations, permissions. Every answer is
validated with the official SDK's generated models (the SDK has no simulation resource to call)."""

from __future__ import annotations

from amigo_sdk.generated import model as sdk

from tertulia.auth.permissions import grant
from tests.support.simulation import (
    PERSONA_VERSION,
    SCENARIO_VERSION,
    add_user,
    create_metric,
    create_persona,
    create_scenario,
    create_set,
    create_unit_test,
    simulation_fixture,
    unit_test_body,
)


async def test_persona_lifecycle(client, tenant, other_tenant):
    h = tenant.headers
    persona_id = await create_persona(client, tenant)
    dup = await client.post(tenant.url("/simulation/persona/"), headers=h, json={
        "name": "Maria", "role": "x", "tags": {}, "initial_version": PERSONA_VERSION})
    assert dup.status_code == 409
    bad = await client.post(tenant.url("/simulation/persona/"), headers=h, json={
        "name": "Bad", "role": "x", "tags": {}, "initial_version": {**PERSONA_VERSION, "preferred_language": "xx"}})
    assert bad.status_code == 422
    bad_var = await client.post(tenant.url("/simulation/persona/"), headers=h, json={
        "name": "Bad", "role": "x", "tags": {}, "initial_version": {**PERSONA_VERSION, "nonsensitive_user_variables": {"Bad-Name": "1"}}})
    assert bad_var.status_code == 422
    sdk_body = sdk.SimulationCreateSimulationPersonaRequest(
        name="Jon", role="caregiver", tags={},  # the SDK model cannot hold tag keys (unhashable)
        initial_version=sdk.SimulationCreateSimulationPersonaRequestInitialVersion(
            background="Jon cares for his father.", user_models=[], nonsensitive_user_variables={},
            sensitive_user_variables={}),
    )
    created = await client.post(tenant.url("/simulation/persona/"), headers=h,
                                json={**sdk_body.model_dump(mode="json"), "tags": {"team": "care"}})
    assert created.status_code == 201, created.text
    jon_id = created.json()["simulation_persona_id"]

    listed = await client.get(tenant.url("/simulation/persona/"), headers=h)
    body = sdk.SimulationGetSimulationPersonasResponse.model_validate(listed.json())
    assert [p.name for p in body.simulation_personas] == ["Maria", "Jon"]
    assert listed.json()["simulation_personas"][0]["tags"] == {"team": "sleep"}
    assert sorted(body.filter_values.roles) == ["caregiver", "patient"]
    assert sorted(body.filter_values.tags) == ["team:care", "team:sleep"]
    by_role = (await client.get(tenant.url("/simulation/persona/"), params={"role": "caregiver"}, headers=h)).json()
    assert [p["id"] for p in by_role["simulation_personas"]] == [jon_id]
    by_tag = (await client.get(tenant.url("/simulation/persona/"), params={"tag": "team:sleep"}, headers=h)).json()
    assert [p["id"] for p in by_tag["simulation_personas"]] == [persona_id]
    page = (await client.get(tenant.url("/simulation/persona/"), params={"limit": 1}, headers=h)).json()
    assert page["has_more"] and page["continuation_token"] == 1
    second = (await client.get(tenant.url("/simulation/persona/"), params={"limit": 1, "continuation_token": 1}, headers=h)).json()
    assert second["filter_values"] is None and [p["id"] for p in second["simulation_personas"]] == [jon_id]
    mine = f"{tenant.org_id},{tenant.user_id}"
    assert len((await client.get(tenant.url("/simulation/persona/"), params={"creator": mine}, headers=h)).json()["simulation_personas"]) == 2
    assert (await client.get(tenant.url("/simulation/persona/"), params={"creator": "nope"}, headers=h)).status_code == 422

    found = await client.get(tenant.url("/simulation/persona/search"), params={"query": "teacher"}, headers=h)
    assert [p.id for p in sdk.SimulationSearchSimulationPersonasResponse.model_validate(found.json()).simulation_personas] == [persona_id]
    by_name = (await client.get(tenant.url("/simulation/persona/search"), params={"query": "jon"}, headers=h)).json()
    assert [p["id"] for p in by_name["simulation_personas"]] == [jon_id]

    v2 = await client.post(tenant.url(f"/simulation/persona/{persona_id}/version/"), headers=h,
                           json={**PERSONA_VERSION, "background": "Maria now works nights.", "timezone": None})
    assert v2.status_code == 201 and v2.json() == {"version": 2}
    stale = await client.post(tenant.url(f"/simulation/persona/{persona_id}/version/?version=2"), headers=h, json=PERSONA_VERSION)
    assert stale.status_code == 400
    versions = await client.get(tenant.url(f"/simulation/persona/{persona_id}/version/"), headers=h)
    parsed = sdk.SimulationGetSimulationPersonaVersionsResponse.model_validate(versions.json())
    assert [v.version for v in parsed.simulation_persona_versions] == [2, 1]
    latest = versions.json()["simulation_persona_versions"][0]
    assert latest["timezone"] is None and latest["preferred_language"] == "spa"
    assert versions.json()["simulation_persona_versions"][1]["timezone"] == "Europe/Madrid"
    assert latest["sensitive_user_variables"] == {"member_number": "A-1234"} and "_id" in latest
    only_one = (await client.get(tenant.url(f"/simulation/persona/{persona_id}/version/"), params={"version": "1"}, headers=h)).json()
    assert [v["version"] for v in only_one["simulation_persona_versions"]] == [1]

    tagged = await client.post(tenant.url(f"/simulation/persona/{persona_id}/"), json={"tags": {"x": None}}, headers=h)
    assert tagged.status_code == 204 and tagged.content == b""
    got = (await client.get(tenant.url("/simulation/persona/"), params={"id": persona_id}, headers=h)).json()
    assert got["simulation_personas"][0]["tags"] == {"x": None}

    assert (await client.get(other_tenant.url("/simulation/persona/"), headers=other_tenant.headers)).json()["simulation_personas"] == []
    foreign = await client.delete(other_tenant.url(f"/simulation/persona/{persona_id}/"), headers=other_tenant.headers)
    assert foreign.status_code == 404
    assert (await client.delete(tenant.url("/simulation/persona/nothex/"), headers=h)).status_code == 422
    assert (await client.delete(tenant.url(f"/simulation/persona/{jon_id}/"), headers=h)).status_code == 204
    assert (await client.delete(tenant.url(f"/simulation/persona/{jon_id}/"), headers=h)).status_code == 404
    deleted = (await client.get(tenant.url("/simulation/persona/"), params={"is_deleted": True}, headers=h)).json()
    assert [p["id"] for p in deleted["simulation_personas"]] == [jon_id]
    assert (await client.get(tenant.url(f"/simulation/persona/{jon_id}/version/"), headers=h)).status_code == 200


async def test_scenario_lifecycle(client, tenant):
    h = tenant.headers
    scenario_id = await create_scenario(client, tenant, conversation_starts_at="2026-03-01T08:00:00Z")
    assert (await client.post(tenant.url("/simulation/scenario/"), headers=h, json={
        "name": "Sleep tip", "tags": {}, "initial_version": SCENARIO_VERSION})).status_code == 409
    bad = await client.post(tenant.url("/simulation/scenario/"), headers=h, json={
        "name": "Odd", "tags": {}, "initial_version": {**SCENARIO_VERSION, "initial_message_type": "shout"}})
    assert bad.status_code == 422
    naive = await client.post(tenant.url("/simulation/scenario/"), headers=h, json={
        "name": "Odd", "tags": {}, "initial_version": {**SCENARIO_VERSION, "conversation_starts_at": "2026-03-01T08:00:00"}})
    assert naive.status_code == 422
    other_id = await create_scenario(client, tenant, name="Refund request", initial_message_type="skip")
    listed = await client.get(tenant.url("/simulation/scenario/"), params={"sort_by": "-updated_at"}, headers=h)
    parsed = sdk.SimulationGetSimulationScenariosResponse.model_validate(listed.json())
    assert [s.id for s in parsed.simulation_scenarios] == [other_id, scenario_id]
    found = (await client.get(tenant.url("/simulation/scenario/search"), params={"query": "refund"}, headers=h)).json()
    assert [s.id for s in sdk.SimulationSearchSimulationScenariosResponse.model_validate(found).simulation_scenarios] == [other_id]

    v2 = await client.post(tenant.url(f"/simulation/scenario/{scenario_id}/version/?version=2"), headers=h,
                           json={**SCENARIO_VERSION, "initial_message_type": "external-event"})
    assert v2.status_code == 201 and v2.json()["version"] == 2
    versions = await client.get(tenant.url(f"/simulation/scenario/{scenario_id}/version/"), params={"sort_by": "+version"}, headers=h)
    rows = sdk.SimulationGetSimulationScenarioVersionsResponse.model_validate(versions.json()).simulation_scenario_versions
    assert [(v.version, v.initial_message_type.value) for v in rows] == [(1, "user-message"), (2, "external-event")]
    assert versions.json()["simulation_scenario_versions"][0]["conversation_starts_at"].startswith("2026-03-01T08:00:00")
    assert (await client.get(tenant.url(f"/simulation/scenario/{scenario_id}/version/"), params={"version": "x"}, headers=h)).status_code == 422
    assert (await client.post(tenant.url(f"/simulation/scenario/{scenario_id}/"), json={"tags": {"a b": "c"}}, headers=h)).status_code == 204
    assert (await client.post(tenant.url(f"/simulation/scenario/{scenario_id}/"), json={"tags": {"a-b": "c"}}, headers=h)).status_code == 422
    assert (await client.delete(tenant.url(f"/simulation/scenario/{other_id}/"), headers=h)).status_code == 204


async def test_unit_tests_and_sets(client, tenant, other_tenant):
    h = tenant.headers
    fx = await simulation_fixture(client, tenant)
    numeric = await create_metric(client, tenant, "Warmth", {"type": "numerical", "lower_bound": 0, "upper_bound": 10})
    wrong_type = unit_test_body(fx, name="Wrong", success_criterions=[
        {"name": "warm", "metric_id": numeric, "criterion": {"type": "boolean", "expected_value": True}}])
    assert (await client.post(tenant.url("/simulation/unit_test/"), json=wrong_type, headers=h)).status_code == 400
    for field, value in (("service_id", "a" * 24), ("persona_id", "b" * 24), ("scenario_id", "c" * 24),
                         ("service_version_set_name", "nope")):
        r = await client.post(tenant.url("/simulation/unit_test/"), json=unit_test_body(fx, name="X", **{field: value}), headers=h)
        assert r.status_code == 404, (field, r.text)
    assert (await client.post(tenant.url("/simulation/unit_test/"), json=unit_test_body(fx, max_interactions=0), headers=h)).status_code == 422
    assert (await client.post(tenant.url("/simulation/unit_test/"), json=unit_test_body(fx, max_interactions=101), headers=h)).status_code == 422
    test_id = await create_unit_test(client, tenant, fx)
    assert (await client.post(tenant.url("/simulation/unit_test/"), json=unit_test_body(fx), headers=h)).status_code == 409
    second_id = await create_unit_test(client, tenant, fx, name="Warm tone", success_criterions=[
        {"name": "warm", "metric_id": numeric, "criterion": {"type": "numerical", "verb": ">=", "threshold": 7}}])

    listed = await client.get(tenant.url("/simulation/unit_test/"), headers=h)
    parsed = sdk.SimulationGetSimulationUnitTestsResponse.model_validate(listed.json())
    assert [t.id for t in parsed.simulation_unit_tests] == [test_id, second_id]
    assert listed.json()["simulation_unit_tests"][0]["tags"] == [{"key": "area", "value": "sleep"}]
    assert parsed.filter_values.metric_ids == sorted([fx.metric_id, numeric])
    by_metric = (await client.get(tenant.url("/simulation/unit_test/"), params={"metric_id": numeric}, headers=h)).json()
    assert [t["id"] for t in by_metric["simulation_unit_tests"]] == [second_id]
    found = await client.get(tenant.url("/simulation/unit_test/search/"), params={"query": "warm"}, headers=h)
    assert [t.field_id for t in sdk.SimulationSearchSimulationUnitTestsResponse.model_validate(found.json()).simulation_unit_tests] == [second_id]

    update = await client.post(tenant.url(f"/simulation/unit_test/{second_id}/"), headers=h,
                               json={"max_interactions": 9, "description": "Warmer.", "run_count": 3})
    assert update.status_code == 204
    again = (await client.get(tenant.url("/simulation/unit_test/"), params={"id": second_id}, headers=h)).json()
    assert again["simulation_unit_tests"][0]["max_interactions"] == 9
    mismatch = await client.post(tenant.url(f"/simulation/unit_test/{second_id}/"), headers=h, json={"success_criterions": [
        {"name": "w", "metric_id": numeric, "criterion": {"type": "categorical", "expected_values": ["a"]}}]})
    assert mismatch.status_code == 400

    set_id = await create_set(client, tenant, [(test_id, 2), (second_id, 1)])
    assert (await client.post(tenant.url("/simulation/unit_test_set/"), headers=h, json={
        "name": "Nightly", "description": None, "tags": {}, "unit_test_runs": [{"unit_test_id": test_id, "run_count": 1}]})).status_code == 409
    assert (await client.post(tenant.url("/simulation/unit_test_set/"), headers=h, json={
        "name": "Empty", "description": None, "tags": {}, "unit_test_runs": []})).status_code == 422
    assert (await client.post(tenant.url("/simulation/unit_test_set/"), headers=h, json={
        "name": "Ghost", "description": None, "tags": {}, "unit_test_runs": [{"unit_test_id": "d" * 24, "run_count": 1}]})).status_code == 404
    sets = await client.get(tenant.url("/simulation/unit_test_set/"), headers=h)
    parsed_sets = sdk.SimulationGetSimulationUnitTestSetsResponse.model_validate(sets.json())
    assert parsed_sets.simulation_unit_test_sets[0].unit_test_runs[0].run_count == 2
    assert parsed_sets.simulation_unit_test_sets[0].last_triggered_run_id is None
    searched = await client.get(tenant.url("/simulation/unit_test_set/search/"), params={"query": "night"}, headers=h)
    assert [s.field_id for s in sdk.SimulationSearchSimulationUnitTestSetResponse.model_validate(searched.json()).simulation_unit_test_sets] == [set_id]

    assert (await client.delete(tenant.url(f"/simulation/unit_test/{test_id}/"), headers=h)).status_code == 400
    in_use = await client.delete(tenant.url(f"/metric/{fx.metric_id}/"), headers=h)
    assert in_use.status_code == 400 and "Gives a sleep tip" in in_use.text
    assert (await client.delete(tenant.url(f"/simulation/persona/{fx.persona_id}/"), headers=h)).status_code == 400
    assert (await client.delete(tenant.url(f"/simulation/scenario/{fx.scenario_id}/"), headers=h)).status_code == 400
    keep_desc = await client.post(tenant.url(f"/simulation/unit_test_set/{set_id}"), headers=h,
                                  json={"unit_test_runs": [{"unit_test_id": test_id, "run_count": 3}], "description": {}})
    assert keep_desc.status_code == 204
    row = (await client.get(tenant.url("/simulation/unit_test_set/"), params={"id": set_id}, headers=h)).json()["simulation_unit_test_sets"][0]
    assert row["description"] == "Every night." and row["unit_test_runs"] == [{"unit_test_id": test_id, "run_count": 3}]
    cleared = await client.post(tenant.url(f"/simulation/unit_test_set/{set_id}"), headers=h, json={"description": None})
    assert cleared.status_code == 204
    assert (await client.delete(tenant.url(f"/simulation/unit_test/{second_id}/"), headers=h)).status_code == 204
    assert (await client.delete(other_tenant.url(f"/simulation/unit_test_set/{set_id}"), headers=other_tenant.headers)).status_code == 404
    assert (await client.delete(tenant.url(f"/simulation/unit_test_set/{set_id}"), headers=h)).status_code == 204
    assert (await client.delete(tenant.url(f"/simulation/unit_test/{test_id}/"), headers=h)).status_code == 204
    assert (await client.delete(tenant.url(f"/metric/{fx.metric_id}/"), headers=h)).status_code == 200  # no longer used


async def test_permissions_filter_lists_and_gate_writes(client, runtime, tenant):
    persona_id = await create_persona(client, tenant)
    await create_persona(client, tenant, name="Hidden")
    reader = await add_user(client, runtime, tenant, [
        grant("Simulation:GetSimulationPersona", {"id": {"type": "Equals", "value": persona_id}}),
    ])
    listed = (await client.get(tenant.url("/simulation/persona/"), headers=reader.headers)).json()
    assert [p["id"] for p in listed["simulation_personas"]] == [persona_id]
    assert len(listed["filter_values"]["roles"]) == 1  # counted over everything, as the spec says
    nothing = await add_user(client, runtime, tenant, [])
    assert (await client.get(tenant.url("/simulation/scenario/"), headers=nothing.headers)).json()["simulation_scenarios"] == []
    assert (await client.get(tenant.url("/simulation/persona/search"), params={"query": "maria"},
                             headers=nothing.headers)).json()["simulation_personas"] == []
    denied = await client.post(tenant.url("/simulation/persona/"), headers=reader.headers, json={
        "name": "New", "role": "r", "tags": {}, "initial_version": PERSONA_VERSION})
    assert denied.status_code == 403
    creator_only = await add_user(client, runtime, tenant, [grant("Simulation:CreateSimulationPersona")])
    half = await client.post(tenant.url("/simulation/persona/"), headers=creator_only.headers, json={
        "name": "New", "role": "r", "tags": {}, "initial_version": PERSONA_VERSION})
    assert half.status_code == 403  # creating needs Modify too
    assert (await client.get(tenant.url(f"/simulation/persona/{persona_id}/version/"), headers=nothing.headers)).status_code == 403
