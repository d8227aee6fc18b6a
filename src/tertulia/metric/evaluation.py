"""Running metrics over conversations: which metrics apply, judging them, storing results idempotently."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.conversation.transcript import Transcript
from tertulia.core.clock import utcnow
from tertulia.metric.judge import Judgement, judge
from tertulia.metric.models import Metric, MetricEvaluationResult, MetricVersion


async def latest_versions(session: AsyncSession, org_id: str, metrics: list[Metric]) -> dict[str, MetricVersion]:
    if not metrics:
        return {}
    wanted = [and_(MetricVersion.metric_id == m.id, MetricVersion.version == m.latest_version) for m in metrics]
    from sqlalchemy import or_

    rows = (await session.scalars(select(MetricVersion).where(MetricVersion.org_id == org_id, or_(*wanted)))).all()
    return {row.metric_id: row for row in rows}


async def applicable_metrics(session: AsyncSession, org_id: str, service_id: str) -> list[tuple[Metric, MetricVersion]]:
    """Every non-deleted metric applied to ``service_id``, with its latest version."""
    metrics = (await session.scalars(
        select(Metric).where(Metric.org_id == org_id, Metric.is_deleted.is_(False)).order_by(Metric.created_at)
    )).all()
    metrics = [m for m in metrics if service_id in (m.applied_to_services or [])]
    versions = await latest_versions(session, org_id, metrics)
    return [(m, versions[m.id]) for m in metrics if m.id in versions]


async def judge_metric(llm: Any, metric: Metric, version: MetricVersion, transcript: Transcript) -> Judgement:
    return await judge(
        llm, name=metric.name, description=version.description, metric_value=version.metric_value,
        notes=metric.additional_notes, transcript=transcript,
    )


def result_row(
    org_id: str, metric: Metric, version: MetricVersion, verdict: Judgement, source: dict[str, Any], key: str
) -> MetricEvaluationResult:
    now = utcnow()
    return MetricEvaluationResult(
        org_id=org_id, metric_id=metric.id, metric_version=version.version, value={"result": verdict.value},
        justification=verdict.justification, source={**source, "references": verdict.references},
        source_type=source["type"], conversation_id=source.get("conversation_id"), result_key=key,
        created_at=now, updated_at=now,
    )


async def evaluate_post_session(
    llm: Any, org_id: str, metrics: list[tuple[Metric, MetricVersion]], transcript: Transcript
) -> list[MetricEvaluationResult]:
    conversation_id = transcript.conversation.id
    rows = []
    for metric, version in metrics:
        verdict = await judge_metric(llm, metric, version, transcript)
        source = {"type": "post-session", "conversation_id": conversation_id}
        rows.append(result_row(org_id, metric, version, verdict, source, f"post-session:{conversation_id}:{metric.id}"))
    return rows


async def replace_results(session: AsyncSession, rows: list[MetricEvaluationResult]) -> None:
    """Delete-then-insert by ``result_key``: a re-run (or a repeated manual evaluation) overwrites."""
    if not rows:
        return
    await session.execute(
        delete(MetricEvaluationResult).where(MetricEvaluationResult.result_key.in_([r.result_key for r in rows]))
    )
    await session.flush()
    session.add_all(rows)


async def evaluate_now(session: AsyncSession, llm: Any, who: Any, body: Any) -> Any:
    """``evaluate-metrics``: judge up to 10 metrics on a conversation now; store them as ``manual`` results (one per
    (conversation, metric): a new evaluation overwrites the previous one). Answers in request order."""
    from tertulia.conversation.models import Interaction
    from tertulia.conversation.transcript import load_transcript
    from tertulia.core.errors import BadRequest, NotFound
    from tertulia.metric import schemas as s

    metric_ids = list(dict.fromkeys(body.metric_ids))
    metrics = {m.id: m for m in (await session.scalars(
        select(Metric).where(Metric.org_id == who.org_id, Metric.id.in_(metric_ids), Metric.is_deleted.is_(False))
    )).all()}
    for metric_id in metric_ids:
        if metric_id not in metrics:
            raise NotFound(f"Metric {metric_id} not found.")
    transcript = await load_transcript(session, who.org_id, body.conversation_id, body.evaluate_to_interaction_id)
    if transcript is None:
        raise NotFound(f"Conversation {body.conversation_id} not found.")
    if body.evaluate_to_interaction_id is not None:
        found = await session.scalar(select(Interaction.id).where(
            Interaction.org_id == who.org_id, Interaction.conversation_id == body.conversation_id,
            Interaction.id == body.evaluate_to_interaction_id,
        ))
        if found is None:
            raise NotFound(f"Interaction {body.evaluate_to_interaction_id} not found.")
    if not transcript.messages:
        raise BadRequest("The conversation has no interactions.")
    versions = await latest_versions(session, who.org_id, list(metrics.values()))
    answers, rows = [], []
    for metric_id in metric_ids:
        metric, version = metrics[metric_id], versions[metric_id]
        verdict = await judge_metric(llm, metric, version, transcript)
        answers.append(s.MetricEvaluationResult(
            metric_id=metric_id, value=verdict.value, references=verdict.references,
            justification=verdict.justification,
        ))
        source = {
            "type": "manual", "conversation_id": body.conversation_id,
            "evaluate_to_interaction_id": body.evaluate_to_interaction_id, "invoked_by": who.user_info,
        }
        rows.append(result_row(who.org_id, metric, version, verdict, source, f"manual:{body.conversation_id}:{metric_id}"))
    await replace_results(session, rows)
    await session.flush()
    return s.EvaluateMetricsResponse(metrics=answers)
