"""A run's artifacts: one JSON document in the blob store (``{org}/simulation-runs/{run}/artifacts.json``),
served through a signed, expiring URL by ``get-simulation-unit-test-set-run-artifacts``.

Per unit test: its spec, its reliability figures and every repetition (status, stop reason, error, conversation id,
the transcript with message ids, each interaction's insights, the metric results); then the aggregate and the unit
tests ordered flakiest first.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.conversation.models import Interaction, Message
from tertulia.simulation import repository as repo
from tertulia.simulation.models import CANCELLED, DONE, SimulationRunItem, SimulationUnitTestSetRun
from tertulia.simulator.stats import flakiest_first, reliability

WIRE_SPEC_FIELDS = ("unit_test_id", "run_count", "service_hierarchical_state_machine_version_info",
                    "agent_version_info", "scenario_version_info", "persona_version_info", "llm_model_preferences",
                    "max_interactions", "metrics_to_evaluate")


def artifacts_key(org_id: str, run_id: str) -> str:
    return f"{org_id}/simulation-runs/{run_id}/artifacts.json"


def reliability_rows(run: SimulationUnitTestSetRun, items: list[SimulationRunItem], k: int | None = None) -> list[Any]:
    rows = []
    for spec in run.unit_test_run_specs or []:
        mine = [i for i in items if i.unit_test_id == spec["unit_test_id"] and i.status == DONE]
        rows.append(reliability(
            spec["unit_test_id"], spec.get("unit_test_name", spec["unit_test_id"]), [bool(i.passed) for i in mine],
            errored=sum(1 for i in mine if i.error), k=k,
        ))
    return rows


async def _conversation(session: AsyncSession, org_id: str, conversation_id: str | None) -> dict[str, Any]:
    if not conversation_id:
        return {"transcript": [], "insights": []}
    messages = (await session.scalars(select(Message).where(
        Message.org_id == org_id, Message.conversation_id == conversation_id).order_by(Message.position))).all()
    interactions = (await session.scalars(select(Interaction).where(
        Interaction.org_id == org_id, Interaction.conversation_id == conversation_id).order_by(Interaction.sequence))).all()
    return {
        "transcript": [{"id": m.id, "interaction_id": m.interaction_id, "message_type": m.message_type,
                        "sender": m.sender, "message": m.message, "created_at": m.created_at.isoformat()}
                       for m in messages],
        "insights": [{"interaction_id": i.id, "sequence": i.sequence, **(i.insights or {})} for i in interactions],
    }


async def build_artifacts(session: AsyncSession, run: SimulationUnitTestSetRun) -> dict[str, Any]:
    items = await repo.run_items(session, run.org_id, [run.id])
    figures = reliability_rows(run, items)
    unit_tests = []
    for spec, figure in zip(run.unit_test_run_specs or [], figures, strict=True):
        repetitions = []
        for item in (i for i in items if i.unit_test_id == spec["unit_test_id"]):
            repetitions.append({
                "run_index": item.run_index, "status": item.status, "passed": item.passed,
                "stop_reason": item.stop_reason, "error": item.error, "failure": item.failure,
                "conversation_id": item.conversation_id, "interactions": item.interactions,
                "metric_results": item.metric_results or [],
                **await _conversation(session, run.org_id, item.conversation_id),
            })
        unit_tests.append({"name": spec.get("unit_test_name"), "spec": {f: spec[f] for f in WIRE_SPEC_FIELDS},
                           "reliability": figure.as_json(), "repetitions": repetitions})
    done = [i for i in items if i.status == DONE]
    return {
        "simulation_unit_test_set_run_id": run.id,
        "simulation_unit_test_set_id": run.unit_test_set_id,
        "created_at": run.created_at.isoformat(),
        "cancelled": run.status == "cancelled",
        "unit_tests": unit_tests,
        "aggregate": {
            "repetitions": len(items), "finished": len(done),
            "cancelled": sum(1 for i in items if i.status == CANCELLED),
            "passed": sum(1 for i in done if i.passed), "errored": sum(1 for i in done if i.error),
            "pass_rate": (sum(1 for i in done if i.passed) / len(done)) if done else 0.0,
        },
        "flakiest_first": [r.unit_test_id for r in flakiest_first(figures)],
    }


async def store_artifacts(runtime: Any, org_id: str, run_id: str, document: dict[str, Any]) -> str | None:
    if runtime.blobs is None:
        return None
    key = artifacts_key(org_id, run_id)
    await runtime.blobs.put(key, json.dumps(document, indent=1, default=str).encode(), "application/json")
    return key
