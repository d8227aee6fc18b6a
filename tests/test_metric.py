"""Metrics over HTTP: CRUD, search, versions (type fixed), evaluation (manual results overwrite) and results."""

from __future__ import annotations

import pytest

from tertulia.engine.fakes import ScriptedLLM
from tests.support.postprocessing import finish_conversation, make_service

BOOL = {"type": "boolean"}
CATS = {"type": "categorical", "categories": ["low", "medium", "high"]}


@pytest.fixture
def llm(runtime):
    previous = runtime.llm
    runtime.llm = ScriptedLLM()
    yield runtime.llm
    runtime.llm = previous


def metric_body(name: str, services: list[str], value: dict = BOOL, **extra) -> dict:
    return {"name": name, "applied_to_services": services, "additional_notes": None, "tags": {"team": "care"},
            "initial_version_metric_value": {"description": f"Did {name} happen?", "metric_value": value}, **extra}


async def test_metric_lifecycle(client, tenant, other_tenant, runtime):
    h = tenant.headers
    service_id = await make_service(runtime.db, tenant.org_id)
    created = await client.post(tenant.url("/metric/"), json=metric_body("Empathy shown", [service_id]), headers=h)
    assert created.status_code == 201, created.text
    metric_id = created.json()["id"]
    dup = await client.post(tenant.url("/metric/"), json=metric_body("Empathy shown", []), headers=h)
    assert dup.status_code == 409
    unknown_service = await client.post(tenant.url("/metric/"), json=metric_body("X", ["a" * 24]), headers=h)
    assert unknown_service.status_code == 404
    bad = await client.post(tenant.url("/metric/"), headers=h, json=metric_body(
        "Y", [], {"type": "categorical", "categories": []}))
    assert bad.status_code == 422
    await client.post(tenant.url("/metric/"), json=metric_body("Risk level", [], CATS), headers=h)

    listed = (await client.get(tenant.url("/metric/"), headers=h)).json()
    assert [m["name"] for m in listed["metrics"]] == ["Empathy shown", "Risk level"]
    first = listed["metrics"][0]
    assert first["metric_value_type"] == "boolean" and first["tags"] == [{"key": "team", "value": "care"}]
    assert first["creator"] == {"org_id": tenant.org_id, "user_id": tenant.user_id}
    assert listed["filter_values"]["types"] == ["boolean", "categorical"]
    only_cat = (await client.get(tenant.url("/metric/"), params={"type": "categorical"}, headers=h)).json()
    assert [m["name"] for m in only_cat["metrics"]] == ["Risk level"]
    by_service = (await client.get(tenant.url("/metric/"), params={"applied_to_service": service_id}, headers=h)).json()
    assert [m["id"] for m in by_service["metrics"]] == [metric_id]
    page = (await client.get(tenant.url("/metric/"), params={"limit": 1}, headers=h)).json()
    assert page["has_more"] and page["continuation_token"] == 1

    found = (await client.get(tenant.url("/metric/search/"), params={"query": "empathy"}, headers=h)).json()
    assert [m["_id"] for m in found["metrics"]] == [metric_id]

    updated = await client.post(tenant.url(f"/metric/{metric_id}/"), json={"additional_notes": "Be strict."}, headers=h)
    assert updated.status_code == 200
    assert (await client.get(tenant.url("/metric/"), params={"id": metric_id}, headers=h)).json()["metrics"][0][
        "additional_notes"] == "Be strict."

    v2 = await client.post(tenant.url(f"/metric/{metric_id}/version/"), headers=h,
                           json={"description": "Stricter.", "metric_value": BOOL})
    assert v2.status_code == 201 and v2.json() == {"version": 2}
    wrong_type = await client.post(tenant.url(f"/metric/{metric_id}/version/"), headers=h,
                                   json={"description": "Now a number.", "metric_value": {
                                       "type": "numerical", "lower_bound": 0, "upper_bound": 5}})
    assert wrong_type.status_code == 400
    guard = await client.post(tenant.url(f"/metric/{metric_id}/version/"), params={"version": 2}, headers=h,
                              json={"description": "Stale.", "metric_value": BOOL})
    assert guard.status_code == 409
    versions = (await client.get(tenant.url(f"/metric/{metric_id}/version"), headers=h)).json()
    assert [v["version"] for v in versions["metric_versions"]] == [2, 1]
    assert versions["metric_versions"][0]["description"] == "Stricter."
    latest = (await client.get(tenant.url(f"/metric/{metric_id}/version"), params={"version": "latest"}, headers=h)).json()
    assert [v["version"] for v in latest["metric_versions"]] == [2]

    assert (await client.get(other_tenant.url(f"/metric/{metric_id}/version"), headers=other_tenant.headers)).status_code == 404
    assert (await client.delete(other_tenant.url(f"/metric/{metric_id}/"), headers=other_tenant.headers)).status_code == 404
    assert (await client.get(tenant.url("/metric/abc/version"), headers=h)).status_code == 422

    deleted = await client.delete(tenant.url(f"/metric/{metric_id}/"), headers=h)
    assert deleted.status_code == 200
    assert [m["name"] for m in (await client.get(tenant.url("/metric/"), headers=h)).json()["metrics"]] == ["Risk level"]
    assert [m["id"] for m in (await client.get(tenant.url("/metric/"), params={"is_deleted": True}, headers=h)).json()[
        "metrics"]] == [metric_id]
    again = await client.post(tenant.url("/metric/"), json=metric_body("Empathy shown", []), headers=h)
    assert again.status_code == 201  # the name is free once the old metric is deleted


async def test_evaluate_metrics_stores_manual_results(client, tenant, runtime, llm):
    h = tenant.headers
    service_id = await make_service(runtime.db, tenant.org_id)
    conv = await finish_conversation(runtime.db, tenant.org_id, tenant.user_id, service_id,
                                     [("Hello!", ""), ("How do you feel?", "Pretty anxious today."), ("I see.", "Bye")],
                                     is_test=True)
    flag = (await client.post(tenant.url("/metric/"), json=metric_body("Anxiety", []), headers=h)).json()["id"]
    risk = (await client.post(tenant.url("/metric/"), json=metric_body("Risk", [], CATS), headers=h)).json()["id"]
    anxious = conv.message_ids[1]
    llm.script_decision("EvaluateMetric", {"justification": "Mild.", "references": ["bogus"], "value": "MEDIUM"})
    llm.script_decision("EvaluateMetric", {"justification": "Said so.", "references": [anxious], "value": True})
    body = {"metric_ids": [risk, flag], "conversation_id": conv.id}
    answer = await client.post(tenant.url("/metric/evaluate"), json=body, headers=h)
    assert answer.status_code == 200, answer.text
    assert answer.json()["metrics"] == [
        {"metric_id": risk, "value": "medium", "references": [], "justification": "Mild."},
        {"metric_id": flag, "value": True, "references": [anxious], "justification": "Said so."},
    ]
    # Order follows the request; the first scripted answer went to the first metric judged (risk).
    results = (await client.get(tenant.url("/metric/metric_evaluation_result"), headers=h,
                                params={"conversation_id": conv.id})).json()["metric_evaluation_results"]
    assert len(results) == 2
    manual = next(r for r in results if r["metric_id"] == flag)
    assert manual["source"]["type"] == "manual" and manual["source"]["invoked_by"]["user_id"] == tenant.user_id
    assert manual["source"]["evaluate_to_interaction_id"] is None and manual["metric_version"] == 1

    # Evaluating again up to the first user turn overwrites the manual result for (conversation, metric).
    llm.script_decision("EvaluateMetric", {"justification": "Not yet.", "references": [], "value": False})
    again = await client.post(tenant.url("/metric/evaluate"), headers=h, json={
        "metric_ids": [flag], "conversation_id": conv.id, "evaluate_to_interaction_id": conv.interaction_ids[0]})
    assert again.status_code == 200 and again.json()["metrics"][0]["value"] is False
    evaluated_text = llm.requests[-1].messages[1].content
    assert "Pretty anxious" not in evaluated_text and "Hello!" in evaluated_text
    results = (await client.get(tenant.url("/metric/metric_evaluation_result"), headers=h,
                                params={"metric_id": flag, "source_type": "manual"})).json()["metric_evaluation_results"]
    assert len(results) == 1 and results[0]["result"] is False
    assert results[0]["source"]["evaluate_to_interaction_id"] == conv.interaction_ids[0]
    by_version = (await client.get(tenant.url("/metric/metric_evaluation_result"), headers=h,
                                   params={"metric_id_and_version": f"{flag}-2"})).json()
    assert by_version["metric_evaluation_results"] == []

    missing = await client.post(tenant.url("/metric/evaluate"), headers=h,
                                json={"metric_ids": ["b" * 24], "conversation_id": conv.id})
    assert missing.status_code == 404
    no_conv = await client.post(tenant.url("/metric/evaluate"), headers=h,
                                json={"metric_ids": [flag], "conversation_id": "c" * 24})
    assert no_conv.status_code == 404
    too_many = await client.post(tenant.url("/metric/evaluate"), headers=h,
                                 json={"metric_ids": [flag] * 11, "conversation_id": conv.id})
    assert too_many.status_code == 422
