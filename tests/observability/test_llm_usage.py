"""Token usage and raw output from the real OpenAI-compatible adapter (over HTTP to the loopback stub) into
``LLMRequest.response``, the observed port's metrics, and the fallback for servers that refuse ``stream_options``."""

from __future__ import annotations

import pytest

from tertulia.engine.adapters.openai_compat import OpenAICompatLLM
from tertulia.engine.ports import ChatMessage, LLMRequest
from tertulia.observability.llm import InstrumentedLLM
from tests.engine.openai_stub import StubServer

SCHEMA = {"type": "object", "properties": {"next": {"type": "string", "enum": ["stay", "go"]}},
          "required": ["next"], "additionalProperties": False}


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


def sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_usage_and_raw_output_reach_the_request_and_the_metrics(stub):
    llm = InstrumentedLLM(OpenAICompatLLM(stub.base_url, "sk-not-used", "stub-model"))
    labels = {"interaction": "UsageProbe", "model": "stub-model"}
    before_in = sample("tertulia_llm_tokens_total", direction="input", **labels)
    before_out = sample("tertulia_llm_tokens_total", direction="output", **labels)
    try:
        decision = LLMRequest("UsageProbe", [ChatMessage("system", "Pick."), ChatMessage("user", "Stay or go now?")])
        assert await llm.decide(decision, SCHEMA, "pick") == {"next": "stay"}
        assert decision.response.input_tokens == 5 and decision.response.output_tokens == 2
        assert decision.response.raw_text == '{"next": "stay"}' and decision.response.model == "stub-model"

        reply = LLMRequest("UsageProbe", [ChatMessage("user", "Say hello")])
        text = "".join([piece async for piece in llm.stream_text(reply)])
        assert text == stub.state.reply and reply.response.raw_text == text
        assert reply.response.input_tokens == 2 and reply.response.output_tokens == len(text.split())
        assert stub.state.requests[-1]["stream_options"] == {"include_usage": True}
    finally:
        await llm.aclose()
    assert sample("tertulia_llm_tokens_total", direction="input", **labels) - before_in == 7
    assert sample("tertulia_llm_tokens_total", direction="output", **labels) - before_out == 2 + len(text.split())
    assert sample("tertulia_llm_calls_total", outcome="ok", **labels) >= 2


async def test_a_server_refusing_stream_options_is_asked_once(stub):
    stub.state.reject_stream_options = True
    llm = OpenAICompatLLM(stub.base_url, None, "stub-model")
    try:
        for _ in range(2):
            reply = LLMRequest("EngageUser", [ChatMessage("user", "Hi")])
            assert "".join([p async for p in llm.stream_text(reply)]) == stub.state.reply
            assert reply.response.output_tokens is None  # the server reports no usage
    finally:
        await llm.aclose()
    asked = ["stream_options" in body for body in stub.state.requests]
    assert asked == [True, False, False] and llm.stream_usage is False


async def test_engine_timeouts_are_counted_as_timeouts():
    import asyncio

    from tertulia.engine.contract import EngineError
    from tertulia.engine.fakes import ScriptedLLM
    from tests.engine.support import action, graph, ports, request, run

    llm = ScriptedLLM()
    llm.hang("EngageUser")
    g = graph([action("greet", ["Greet"], [("Done", "end")]), action("end", ["Close"])], initial="greet", terminal="end")
    before = sample("tertulia_llm_errors_total", interaction="EngageUser", model="default", kind="timeout")
    with pytest.raises(EngineError) as failed:
        await asyncio.wait_for(run(request(g, "Hi", state="greet"), ports(InstrumentedLLM(llm), call_timeout=0.2)), 10)
    assert failed.value.http_error_code == 504
    assert sample("tertulia_llm_errors_total", interaction="EngageUser", model="default", kind="timeout") - before == 1
    assert sample("tertulia_llm_calls_total", interaction="EngageUser", model="default", outcome="cancelled") >= 1
