"""The three post-processing job handlers.

Each handler reads what it needs, calls the LLM (outside any transaction), then writes everything in ONE
transaction that starts by settling its job (``ctx.complete``: conditional on the claim token): results
replaced (delete-then-insert, keyed by conversation), the step appended to ``completed_post_processings``,
``is_analyzed`` set when all steps are done, and the webhook deliveries queued. A worker that dies before that
commit leaves nothing behind; the re-run produces the same rows once ("exactly once in effect").
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.analysis import (
    COMPUTE_METRICS,
    EXTRACT_MEMORIES,
    GENERATE_USER_MODELS,
    JOB_KIND_PREFIX,
    POST_PROCESSING_STEPS,
    enqueue_step,
)
from tertulia.analysis.memories import extract_memories
from tertulia.analysis.user_models import generate_user_model
from tertulia.conversation.models import Conversation
from tertulia.conversation.transcript import load_transcript
from tertulia.core.clock import utcnow
from tertulia.jobs.registry import JobContext, register
from tertulia.organization.models import Organization
from tertulia.user.models import UserMemory, UserModelEntry


async def _dimensions(session: AsyncSession, org_id: str) -> list:
    org = await session.get(Organization, org_id)
    return list(org.user_dimensions or []) if org else []


async def _mark_step_done(session: AsyncSession, org_id: str, conversation_id: str, step: str) -> None:
    """Record the step on the conversation (row locked on PostgreSQL; SQLite already holds its write lock because
    the job was settled first in this transaction) and queue the step's webhook."""
    from tertulia.webhook.events import post_processing_complete

    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.org_id == org_id, Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if conversation is None:
        return
    done = list(conversation.completed_post_processings or [])
    if step not in done:
        done.append(step)
    conversation.completed_post_processings = done
    if all(s in done for s in POST_PROCESSING_STEPS):
        conversation.is_analyzed = True
    await post_processing_complete(session, org_id, conversation_id, step)


async def _skip(ctx: JobContext) -> None:
    async with ctx.settle():
        pass


async def run_extract_memories(ctx: JobContext) -> None:
    runtime, org_id, conversation_id = ctx.runtime, ctx.payload["org_id"], ctx.payload["conversation_id"]
    async with runtime.db.sessions() as session:
        transcript = await load_transcript(session, org_id, conversation_id)
        dimensions = await _dimensions(session, org_id)
    if transcript is None or transcript.conversation.is_test:
        return await _skip(ctx)
    found = await extract_memories(runtime.llm, transcript, dimensions)
    embeddings = await runtime.embedder.embed([f"{m.content} {m.context}".strip() for m in found]) if (
        found and runtime.embedder is not None) else [None] * len(found)
    user_id = transcript.conversation.user_id
    async with ctx.settle() as session:
        await session.execute(
            delete(UserMemory).where(UserMemory.org_id == org_id, UserMemory.conversation_id == conversation_id)
        )
        for memory, embedding in zip(found, embeddings, strict=True):
            session.add(UserMemory(
                org_id=org_id, user_id=user_id, conversation_id=conversation_id, references=memory.references,
                content=memory.content, context=memory.context, embedding=list(embedding) if embedding else None,
            ))
        await _mark_step_done(session, org_id, conversation_id, EXTRACT_MEMORIES)
        await enqueue_step(session, org_id, conversation_id, GENERATE_USER_MODELS)


async def run_generate_user_models(ctx: JobContext) -> None:
    runtime, org_id, conversation_id = ctx.runtime, ctx.payload["org_id"], ctx.payload["conversation_id"]
    async with runtime.db.sessions() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.org_id == org_id, Conversation.id == conversation_id)
        )
        if conversation is None or conversation.is_test:
            return await _skip(ctx)
        user_id = conversation.user_id
        dimensions = await _dimensions(session, org_id)
        current = (await session.scalars(
            select(UserModelEntry).where(UserModelEntry.org_id == org_id, UserModelEntry.user_id == user_id)
        )).all()
        memories = (await session.scalars(
            select(UserMemory).where(UserMemory.org_id == org_id, UserMemory.user_id == user_id)
            .order_by(UserMemory.created_at)
        )).all()
    entries = await generate_user_model(runtime.llm, dimensions, current, memories) if memories else []
    async with ctx.settle() as session:
        if entries:  # an empty synthesis never wipes an existing model
            await session.execute(
                delete(UserModelEntry).where(UserModelEntry.org_id == org_id, UserModelEntry.user_id == user_id)
            )
            now = utcnow()
            for entry in entries:
                session.add(UserModelEntry(
                    org_id=org_id, user_id=user_id, content=entry.content, insight_ids=entry.insight_ids,
                    dimensions=entry.dimensions, updated_at=now,
                ))
        await _mark_step_done(session, org_id, conversation_id, GENERATE_USER_MODELS)


async def run_compute_metrics(ctx: JobContext) -> None:
    from tertulia.metric.evaluation import applicable_metrics, evaluate_post_session, replace_results

    runtime, org_id, conversation_id = ctx.runtime, ctx.payload["org_id"], ctx.payload["conversation_id"]
    async with runtime.db.sessions() as session:
        transcript = await load_transcript(session, org_id, conversation_id)
        if transcript is None or transcript.conversation.is_test:
            return await _skip(ctx)
        metrics = await applicable_metrics(session, org_id, transcript.conversation.service_id)
    rows = await evaluate_post_session(runtime.llm, org_id, metrics, transcript)
    async with ctx.settle() as session:
        await replace_results(session, rows)
        await _mark_step_done(session, org_id, conversation_id, COMPUTE_METRICS)


register(JOB_KIND_PREFIX + EXTRACT_MEMORIES, run_extract_memories)
register(JOB_KIND_PREFIX + GENERATE_USER_MODELS, run_generate_user_models)
register(JOB_KIND_PREFIX + COMPUTE_METRICS, run_compute_metrics)
