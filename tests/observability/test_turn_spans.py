"""Real spans, read from an in-memory exporter behind the real OpenTelemetry SDK, for one turn: the turn span, its
pipeline steps, each navigation decision and transition, the tool call, and the LLM calls' GenAI spans with their
token counts; over HTTP the turn hangs under the request's server span and the jobs it queued link back to it."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager
from opentelemetry import trace

from tertulia.app import create_app
from tertulia.engine.fakes import FakeTools, ScriptedLLM
from tertulia.observability.llm import InstrumentedLLM
from tests.engine.support import action, graph, ports, request, run
from tests.observability.support import span_recorder
from tests.support.conversation import interact, make_service, start

TOOL = "7" * 24


@pytest.fixture
def spans():
    exporter, switch = span_recorder()
    exporter.clear()
    switch.on = True
    yield exporter
    switch.on = False
    exporter.clear()


def by_name(finished, name: str) -> list:
    return [s for s in finished if s.name == name]


def children(finished, parent) -> list:
    return [s for s in finished if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def test_one_turn_step_spans_and_llm_spans(spans):
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    llm.script_decision("SelectNextActionForDecisionState",
                        {"tool": "weather", "input": {"city": "Lisbon"}, "next": "exit 1"})
    llm.script_decision("SelectNextActionForDecisionState", {"tool": "none", "input": {}, "next": "exit 2"})
    tools = FakeTools()
    tools.add(TOOL, lambda p: f"Rain in {p['city']}", name="weather", version="1.0.3")
    g = graph([
        action("greet", ["Greet"], [("Go", "route")]),
        {"type": "decision", "name": "route", "objective": "Route by weather", "decision_guidelines": [],
         "tool_call_specs": [{"tool_id": TOOL, "version_constraint": "~=1.0", "additional_instruction": "",
                              "audio_fillers": [], "audio_filler_triggered_after": 1.0,
                              "result_persistence": "ephemeral"}],
         "audio_fillers": [], "audio_filler_triggered_after": 1.0,
         "exit_conditions": [{"description": "Sunny", "next_state": "end"},
                             {"description": "Rainy", "next_state": "indoor"}]},
        action("indoor", ["Suggest indoor plans"], [("Done", "end")]),
        action("end", ["Close"]),
    ], initial="greet", terminal="end")
    with trace.get_tracer("test").start_as_current_span("request") as outer:
        res = await run(request(g, "Plans for today?", state="greet"), ports(InstrumentedLLM(llm), tools=tools))
    assert res.outcome.state.state == "indoor"
    finished = spans.get_finished_spans()
    assert {s.context.trace_id for s in finished} == {outer.get_span_context().trace_id}

    [turn] = by_name(finished, "tertulia.turn")
    assert turn.parent.span_id == outer.get_span_context().span_id
    assert turn.attributes["tertulia.interaction_id"] == "i" * 24 and turn.attributes["tertulia.llm_calls"] == 5
    assert turn.attributes["tertulia.transitions"] == 2
    steps = {s.name for s in children(finished, turn)}
    assert {"select_dynamic_behavior", "active_memory", "navigation", "engage", "navigation.decision"} <= steps
    [navigation] = by_name(finished, "navigation")
    [engage] = by_name(finished, "engage")

    decisions = by_name(finished, "navigation.decision")
    speculative = [d for d in decisions if d.attributes.get("tertulia.speculative")]
    [route] = [d for d in decisions if d.attributes["tertulia.state"] == "route"]
    [indoor] = [d for d in decisions if d.attributes["tertulia.state"] == "indoor"]  # the action chosen there
    assert len(speculative) == 1 and speculative[0].attributes["tertulia.state"] == "greet"
    assert route.parent.span_id == navigation.context.span_id and route.attributes["tertulia.state_type"] == "decision"

    transitions = by_name(finished, "navigation.transition")
    assert [(t.attributes["tertulia.from_state"], t.attributes["tertulia.to_state"]) for t in transitions] == [
        ("greet", "route"), ("route", "indoor")]
    assert all(t.parent.span_id == navigation.context.span_id for t in transitions)

    [tool] = by_name(finished, "execute_tool weather")
    assert tool.parent.span_id == route.context.span_id
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool" and tool.attributes["tertulia.tool_succeeded"]

    chats = [s for s in finished if s.name.startswith("chat ")]
    by_interaction = {}
    for chat in chats:
        by_interaction.setdefault(chat.attributes["tertulia.llm.interaction"], []).append(chat)
    assert sorted((k, len(v)) for k, v in by_interaction.items()) == [
        ("EngageUser", 1), ("SelectNextAction", 2), ("SelectNextActionForDecisionState", 2)]
    assert {c.parent.span_id for c in by_interaction["SelectNextAction"]} == {
        speculative[0].context.span_id, indoor.context.span_id}
    assert all(c.parent.span_id == route.context.span_id for c in by_interaction["SelectNextActionForDecisionState"])
    [reply] = by_interaction["EngageUser"]
    assert reply.parent.span_id == engage.context.span_id
    for chat in chats:
        a = chat.attributes
        assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "fake"
        assert a["gen_ai.request.model"] == "default" and chat.name == "chat default"
        assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
        assert chat.kind == trace.SpanKind.CLIENT
    assert reply.attributes["gen_ai.usage.output_tokens"] == len("".join(res.fragments).split())
    assert reply.attributes["gen_ai.output.type"] == "text" and reply.attributes["gen_ai.server.time_to_first_token"] >= 0
    assert "gen_ai.server.time_to_first_token" not in route.attributes
    for span in finished:  # no prompt, reply or tool output text on spans
        assert not any("Plans for today" in str(v) or "Rain in" in str(v) for v in span.attributes.values())


async def test_failed_llm_call_marks_its_span_and_the_turn(spans):
    from tertulia.engine.contract import EngineError

    llm = ScriptedLLM()
    llm.fail("EngageUser", after_fragments=1)
    g = graph([action("greet", ["Greet"], [("Done", "end")]), action("end", ["Close"])], initial="greet", terminal="end")
    with pytest.raises(EngineError):
        await run(request(g, "Hi", state="greet"), ports(InstrumentedLLM(llm)))
    finished = spans.get_finished_spans()
    [reply] = [s for s in finished if s.attributes.get("tertulia.llm.interaction") == "EngageUser"]
    assert reply.status.status_code == trace.StatusCode.ERROR and reply.attributes["error.type"] == "ScriptedFailure"
    [turn] = by_name(finished, "tertulia.turn")
    assert turn.status.status_code == trace.StatusCode.ERROR
    assert turn.attributes["error.type"] == "EngineError" and turn.attributes["tertulia.http_error_code"] == 502
    assert all(not span.events for span in finished)  # no exception texts (they may quote model output)


async def test_http_turn_under_the_server_span_and_jobs_linked_to_their_request(spans, runtime, tenant):
    from tests.support.postprocessing import drain

    app = create_app(runtime)  # instrumented: a tracer provider is installed
    async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                       base_url="http://tertulia.test") as client:
        ready = await make_service(client, tenant)
        conversation_id, _ = await start(client, tenant, ready.service_id)
        spans.clear()
        r = await interact(client, tenant, conversation_id, "Goodbye for now")
        assert r.status_code == 200
        finish = await client.post(tenant.url(f"/conversation/{conversation_id}/finish/"), headers=tenant.headers)
        assert finish.status_code == 204, finish.text
        await drain(runtime, tenant.org_id)
    finished = spans.get_finished_spans()
    servers = {s.name: s for s in finished if s.kind == trace.SpanKind.SERVER}
    interact_span = servers["POST /v1/{organization}/conversation/{conversation_id}/interact"]
    finish_span = servers["POST /v1/{organization}/conversation/{conversation_id}/finish/"]
    [turn] = by_name(finished, "tertulia.turn")
    assert turn.parent.span_id == interact_span.context.span_id
    assert interact_span.attributes["tertulia.conversation_id"] == conversation_id
    jobs = [s for s in finished if s.name.startswith("job ")]
    assert jobs, [s.name for s in finished]
    for job in jobs:
        assert job.kind == trace.SpanKind.CONSUMER and job.context.trace_id != finish_span.context.trace_id
        linked = [link.context for link in job.links]
        assert linked, job.name
        assert linked[0].trace_id == finish_span.context.trace_id or any(
            linked[0].span_id == j.context.span_id for j in jobs)  # a follow-up job links to the job that queued it
