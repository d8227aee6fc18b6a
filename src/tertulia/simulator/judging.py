"""Success criteria through the existing metric judge, on the finished transcript. Each metric is judged once per
repetition with the version the run pinned; its result is stored as a ``simulation`` metric evaluation result
(``get-metric-evaluation-results`` lists it), and each criterion over it passes or fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.conversation.transcript import load_transcript
from tertulia.metric.evaluation import judge_metric, replace_results, result_row
from tertulia.metric.judge import Judgement
from tertulia.metric.models import Metric, MetricEvaluationResult, MetricVersion
from tertulia.runtime import Runtime
from tertulia.simulator.stats import criterion_holds


@dataclass
class Verdicts:
    judged: dict[str, tuple[Metric, MetricVersion, Judgement]] = field(default_factory=dict)


async def judge_conversation(runtime: Runtime, org_id: str, conversation_id: str, spec: dict[str, Any]) -> Verdicts:
    verdicts = Verdicts()
    wanted = list(dict.fromkeys(t["metric_id"] for t in spec["metrics_to_evaluate"]))
    pinned = spec.get("metric_versions") or {}
    async with runtime.db.unit_of_work() as session:
        transcript = await load_transcript(session, org_id, conversation_id)
        rows = {}
        for metric_id in wanted:
            metric = await session.scalar(select(Metric).where(Metric.org_id == org_id, Metric.id == metric_id))
            version = await session.scalar(select(MetricVersion).where(
                MetricVersion.org_id == org_id, MetricVersion.metric_id == metric_id,
                MetricVersion.version == int(pinned.get(metric_id) or (metric.latest_version if metric else 1)),
            ))
            if metric is None or version is None:
                raise RuntimeError(f"Metric {metric_id} (pinned version) no longer exists.")
            rows[metric_id] = (metric, version)
    if transcript is None:
        raise RuntimeError(f"Conversation {conversation_id} no longer exists.")
    for metric_id, (metric, version) in rows.items():  # outside any transaction: these are LLM calls
        verdicts.judged[metric_id] = (metric, version, await judge_metric(runtime.llm, metric, version, transcript))
    return verdicts


async def store(
    session: AsyncSession, org_id: str, verdicts: Verdicts, spec: dict[str, Any], *, run_id: str, run_index: int,
    conversation_id: str,
) -> tuple[list[dict[str, Any]], bool]:
    """Write the results (a re-run overwrites by key) and answer the per-criterion entries and whether all held."""
    results: dict[str, MetricEvaluationResult] = {}
    for metric_id, (metric, version, verdict) in verdicts.judged.items():
        source = {"type": "simulation", "simulation_unit_test_set_run_id": run_id,
                  "unit_test_id": spec["unit_test_id"], "run_index": run_index}
        key = f"simulation:{run_id}:{spec['unit_test_id']}:{run_index}:{metric_id}"
        row = result_row(org_id, metric, version, verdict, source, key)
        row.conversation_id = conversation_id  # not in the wire source, but get-metric-evaluation-results filters on it
        results[metric_id] = row
    await replace_results(session, list(results.values()))
    await session.flush()
    entries, all_held = [], True
    for target in spec["metrics_to_evaluate"]:
        row = results[target["metric_id"]]
        value = (row.value or {}).get("result")
        held = criterion_holds(target["success_criterion"], value)
        all_held = all_held and held
        entries.append({
            "metric_id": target["metric_id"], "metric_version": row.metric_version,
            "success_criterion_name": target["success_criterion_name"], "result_id": row.id, "value": value,
            "passed": held, "justification": row.justification,
        })
    return entries, all_held
