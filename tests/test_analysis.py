"""Post-processing end to end: a finished conversation → jobs → memories, user model, metric results and signed
webhook deliveries (verified with the official SDK's verifier at a loopback receiver)."""

from __future__ import annotations

import pytest
from amigo_sdk.webhooks import parse_webhook_event
from sqlalchemy import select, update

from tertulia.analysis.memory_store import UserMemoryStore
from tertulia.conversation.models import Conversation
from tertulia.engine.fakes import FakeEmbedder, ScriptedLLM
from tertulia.jobs.models import Job
from tertulia.metric.models import MetricEvaluationResult
from tertulia.organization.models import Organization
from tertulia.user.models import UserMemory, UserModelEntry
from tests.support.postprocessing import WebhookReceiver, drain, finish_conversation, make_service

TURNS = [
    ("Hi! What would you like to work on?", ""),
    ("Tell me about your week.", "I started training for a marathon in Lisbon in October."),
    ("How is it going?", "My knee hurts after long runs, and I prefer running in the morning."),
]
DIMENSIONS = [{"description": "Health and fitness goals", "tags": ["fitness"]},
              {"description": "Daily routines and preferences", "tags": ["routine"]}]


@pytest.fixture
def llm(runtime):
    previous = runtime.llm, runtime.embedder
    runtime.llm, runtime.embedder = ScriptedLLM(), FakeEmbedder()
    yield runtime.llm
    runtime.llm, runtime.embedder = previous


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


async def create_metric(client, tenant, service_id: str, name: str, value: dict) -> str:
    body = {"name": name, "applied_to_services": [service_id], "additional_notes": None, "tags": {},
            "initial_version_metric_value": {"description": f"Judge {name}.", "metric_value": value}}
    response = await client.post(tenant.url("/metric/"), json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_finished_conversation_is_fully_post_processed(client, tenant, runtime, llm, receiver):
    db = runtime.db
    async with db.sessions() as session:
        await session.execute(update(Organization).where(Organization.id == tenant.org_id).values(user_dimensions=DIMENSIONS))
        await session.commit()
    service_id = await make_service(db, tenant.org_id)
    other_service = await make_service(db, tenant.org_id)
    goal_metric = await create_metric(client, tenant, service_id, "Goal stated", {"type": "boolean"})
    score_metric = await create_metric(client, tenant, service_id, "Engagement",
                                       {"type": "numerical", "lower_bound": 1, "upper_bound": 10})
    await create_metric(client, tenant, other_service, "Elsewhere", {"type": "boolean"})  # other service: not run
    hook = await client.post(tenant.url("/webhook_destination/"), headers=tenant.headers, json={
        "url": receiver.url, "accepted_types": ["conversation-post-processing-complete"]})
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]

    conv = await finish_conversation(db, tenant.org_id, tenant.user_id, service_id, TURNS)
    marathon_msg, knee_msg = conv.message_ids[1], conv.message_ids[3]
    llm.script_decision("ExtractMemories", {"memories": [
        {"content": "Is training for the Lisbon marathon in October", "context": "Talking about their week",
         "references": [marathon_msg]},
        {"content": "Has knee pain after long runs", "context": "Progress of training",
         "references": [knee_msg, "not-a-message-id"]},
        {"content": "Prefers running in the morning", "context": "Routine", "references": []},
    ]})
    llm.script_decision("GenerateUserModel", lambda request, schema: {"user_models": [
        {"dimension_indexes": [0], "content": "Marathon runner managing knee pain.",
         "insight_ids": [line[1:25] for line in request.messages[1].content.splitlines() if line.startswith("[")][:2]},
        {"dimension_indexes": [1, 7], "content": "Morning runner.", "insight_ids": ["unknown"]},
    ]})
    llm.script_decision("EvaluateMetric", {"justification": "Goal in message.", "references": [marathon_msg], "value": True})
    llm.script_decision("EvaluateMetric", {"justification": "Very engaged.", "references": [], "value": 42})

    await drain(runtime, tenant.org_id)

    async with db.sessions() as session:
        memories = (await session.scalars(select(UserMemory).where(UserMemory.conversation_id == conv.id)
                                          .order_by(UserMemory.content))).all()
        entries = (await session.scalars(select(UserModelEntry).where(
            UserModelEntry.org_id == tenant.org_id, UserModelEntry.user_id == tenant.user_id))).all()
        results = (await session.scalars(select(MetricEvaluationResult).where(
            MetricEvaluationResult.conversation_id == conv.id))).all()
        conversation = await session.get(Conversation, conv.id)
        jobs = (await session.scalars(select(Job).where(Job.org_id == tenant.org_id))).all()

    assert {m.content for m in memories} == {"Is training for the Lisbon marathon in October",
                                             "Has knee pain after long runs", "Prefers running in the morning"}
    by_content = {m.content: m for m in memories}
    assert by_content["Has knee pain after long runs"].references == [knee_msg]  # unknown ids dropped
    user_msgs = [conv.message_ids[1], conv.message_ids[3]]
    assert by_content["Prefers running in the morning"].references == user_msgs  # no cited id: the user's messages
    assert all(m.embedding and len(m.embedding) == 512 for m in memories)
    assert "Health and fitness goals" in llm.requests[0].messages[0].content  # guided by the org's dimensions

    assert sorted(e.content for e in entries) == ["Marathon runner managing knee pain.", "Morning runner."]
    runner = next(e for e in entries if e.content.startswith("Marathon"))
    assert runner.dimensions == [DIMENSIONS[0]] and len(runner.insight_ids) == 2
    assert set(runner.insight_ids) <= {m.id for m in memories}
    assert next(e for e in entries if e.content == "Morning runner.").insight_ids == []

    assert {r.metric_id: r.value["result"] for r in results} == {goal_metric: True, score_metric: 10}  # clamped
    goal = next(r for r in results if r.metric_id == goal_metric)
    assert goal.source == {"type": "post-session", "conversation_id": conv.id, "references": [marathon_msg]}
    assert llm.calls["EvaluateMetric"] == 2

    assert conversation.is_analyzed
    assert sorted(conversation.completed_post_processings) == ["compute-metrics", "extract-memories", "generate-user-models"]
    assert {j.status for j in jobs} == {"succeeded"}

    # One signed webhook per step, each verifying with the SDK's own verifier.
    assert len(receiver.received) == 3
    steps = set()
    for got in receiver.received:
        event = parse_webhook_event(got.body, got.headers["x-amigo-request-signature"],
                                    got.headers["x-amigo-request-timestamp"], secret)
        assert event.conversation_id == conv.id and event.org_id == tenant.org_id
        steps.add(event.post_processing_type)
        assert len(got.headers["x-amigo-idempotent-key"]) == 24
    assert steps == {"extract-memories", "generate-user-models", "compute-metrics"}

    # The results are readable over HTTP.
    listed = await client.get(tenant.url("/metric/metric_evaluation_result"), headers=tenant.headers,
                              params={"conversation_id": conv.id, "source_type": "post-session"})
    assert listed.status_code == 200, listed.text
    assert {r["metric_id"] for r in listed.json()["metric_evaluation_results"]} == {goal_metric, score_metric}

    # The engine's memory retriever finds them (embeddings, falling back to token overlap).
    store = UserMemoryStore(db.sessions, tenant.org_id, tenant.user_id, runtime.embedder)
    assert await store.has_any()
    hits = await store.search("knee pain running", limit=2)
    assert hits[0].content == "Has knee pain after long runs"
    lexical = UserMemoryStore(db.sessions, tenant.org_id, tenant.user_id, None)
    assert (await lexical.search("Lisbon marathon", limit=1))[0].content.startswith("Is training")
    assert await UserMemoryStore(db.sessions, tenant.org_id, "nobody", None).search("knee") == []


async def test_test_conversations_are_not_analyzed(runtime, tenant, llm):
    service_id = await make_service(runtime.db, tenant.org_id)
    conv = await finish_conversation(runtime.db, tenant.org_id, tenant.user_id, service_id, TURNS, is_test=True)
    async with runtime.db.sessions() as session:
        jobs = (await session.scalars(select(Job).where(Job.org_id == tenant.org_id))).all()
        assert jobs == []
    await drain(runtime, tenant.org_id)
    async with runtime.db.sessions() as session:
        conversation = await session.get(Conversation, conv.id)
        assert not conversation.is_analyzed and conversation.completed_post_processings == []
    assert llm.total_calls == 0


async def test_rerun_of_a_step_replaces_instead_of_duplicating(runtime, tenant, llm):
    """A step that runs again (e.g. its worker crashed after the LLM call) leaves one set of results."""
    from tertulia.analysis import EXTRACT_MEMORIES, enqueue_step

    service_id = await make_service(runtime.db, tenant.org_id)
    conv = await finish_conversation(runtime.db, tenant.org_id, tenant.user_id, service_id, TURNS)
    memory = {"memories": [{"content": "Runs marathons", "context": "", "references": []}]}
    llm.script_decision("ExtractMemories", memory)
    await drain(runtime, tenant.org_id)
    async with runtime.db.sessions() as session:  # force a second run of the same step
        await session.execute(update(Job).where(Job.dedupe_key == f"post-processing:{conv.id}:{EXTRACT_MEMORIES}")
                              .values(dedupe_key=None))
        await enqueue_step(session, tenant.org_id, conv.id, EXTRACT_MEMORIES)
        await session.commit()
    llm.script_decision("ExtractMemories", memory)
    await drain(runtime, tenant.org_id)
    async with runtime.db.sessions() as session:
        rows = (await session.scalars(select(UserMemory).where(UserMemory.conversation_id == conv.id))).all()
        conversation = await session.get(Conversation, conv.id)
    assert [r.content for r in rows] == ["Runs marathons"]
    assert conversation.completed_post_processings.count(EXTRACT_MEMORIES) == 1


async def test_http_finish_runs_post_processing(client, tenant, runtime, receiver):
    """Through the real conversation API: create, interact, finish → the jobs run → memories and user model are
    served by the user API, and the webhooks verify with the SDK."""
    from tests.support.conversation import interact, start
    from tests.support.conversation import make_service as make_http_service

    llm = runtime.llm  # the runtime's ScriptedLLM (fake provider), shared with the conversation engine
    svc = await make_http_service(client, tenant)
    secret = (await client.post(tenant.url("/webhook_destination/"), headers=tenant.headers, json={
        "url": receiver.url, "accepted_types": ["conversation-post-processing-complete"]})).json()["secret"]
    conversation_id, _ = await start(client, tenant, svc.service_id)
    reply = await interact(client, tenant, conversation_id, "I love hiking in the Alps every summer.")
    assert reply.status_code == 200, reply.text
    llm.script_decision("ExtractMemories", {"memories": [
        {"content": "Loves hiking in the Alps every summer", "context": "Hobbies", "references": []}]})
    llm.script_decision("GenerateUserModel", lambda request, schema: {"user_models": [{
        "dimension_indexes": [0], "content": "An outdoorsy hiker.",
        "insight_ids": [line[1:25] for line in request.messages[1].content.splitlines() if line.startswith("[")]}]})
    finished = await client.post(tenant.url(f"/conversation/{conversation_id}/finish/"), headers=tenant.headers)
    assert finished.status_code == 204, finished.text

    await drain(runtime, tenant.org_id)

    memories = await client.get(tenant.url(f"/user/{tenant.user_id}/memory"), headers=tenant.headers)
    assert memories.status_code == 200, memories.text
    items = memories.json()["memories"]
    assert [m["content"] for m in items] == ["Loves hiking in the Alps every summer"]
    assert items[0]["conversation_id"] == conversation_id and items[0]["references"]
    model = (await client.get(tenant.url(f"/user/{tenant.user_id}/user_model"), headers=tenant.headers)).json()
    assert [m["content"] for m in model["user_models"]] == ["An outdoorsy hiker."]
    assert model["user_models"][0]["insight_ids"] == [items[0]["id"]]
    async with runtime.db.sessions() as session:
        assert (await session.get(Conversation, conversation_id)).is_analyzed
    events = [parse_webhook_event(r.body, r.headers["x-amigo-request-signature"], r.headers["x-amigo-request-timestamp"],
                                  secret) for r in receiver.received]
    assert sorted(e.post_processing_type for e in events) == ["compute-metrics", "extract-memories", "generate-user-models"]
    assert {e.conversation_id for e in events} == {conversation_id}
