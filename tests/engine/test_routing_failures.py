"""Given model preferences or a failing model, when a turn runs, then calls are routed by interaction name and
failures surface as EngineError (never a hang)."""

from __future__ import annotations

import pytest

from tertulia.engine.contract import EngineError, TurnOutcome
from tertulia.engine.fakes import ScriptedLLM
from tertulia.engine.turn import run_turn
from tests.engine.support import ports, request, run, simple_graph


async def test_model_preferences_route_each_interaction():
    llm = ScriptedLLM()
    prefs = {"EngageUser": {"llm_name": "openai_gpt-5.2-2025-12-11", "params": {"temperature": 0.2}},
             "SelectNextAction": {"llm_name": "azure_gpt-5-nano-2025-08-07", "params": {}}}
    await run(request(simple_graph(), "Hi", prefs=prefs), ports(llm, default_model="house-model"))
    by = {r.interaction: r for r in llm.requests}
    assert by["EngageUser"].model == "openai_gpt-5.2-2025-12-11"
    assert by["EngageUser"].params == {"temperature": 0.2}
    assert by["SelectNextAction"].model == "azure_gpt-5-nano-2025-08-07"


async def test_unknown_interactions_use_default_model():
    llm = ScriptedLLM()
    await run(request(simple_graph(), "Hi", prefs={"Other": {"llm_name": "x"}}), ports(llm, default_model="house"))
    assert {r.model for r in llm.requests} == {"house"}


async def test_persona_is_a_stable_prefix_across_calls():
    llm = ScriptedLLM()
    await run(request(simple_graph(), "Hi"), ports(llm))
    await run(request(simple_graph(), "Something else entirely", state="ask"), ports(llm))
    firsts = {r.messages[0].content for r in llm.requests}
    assert len(firsts) == 1 and "You are Amigo, wellness coach" in firsts.pop()


async def test_llm_failing_mid_stream_raises_engine_error_after_partial_fragments():
    llm = ScriptedLLM()
    llm.script_text("EngageUser", "one two three four")
    llm.fail("EngageUser", after_fragments=2)
    seen = []
    with pytest.raises(EngineError) as info:
        async for event in run_turn(request(simple_graph(), "Hi"), ports(llm)):
            assert not isinstance(event, TurnOutcome)
            seen.append(event)
    assert info.value.http_error_code == 502
    assert "EngageUser" in info.value.description


async def test_navigation_failure_raises_engine_error():
    llm = ScriptedLLM()
    llm.fail("SelectNextAction", RuntimeError("provider exploded"))
    with pytest.raises(EngineError) as info:
        await run(request(simple_graph(), "Hi"), ports(llm))
    assert "provider exploded" in info.value.description


async def test_hanging_llm_times_out_with_504():
    llm = ScriptedLLM()
    llm.hang("SelectNextAction")
    with pytest.raises(EngineError) as info:
        await run(request(simple_graph(), "Hi"), ports(llm, call_timeout=0.2))
    assert info.value.http_error_code == 504


async def test_hanging_stream_times_out_with_504():
    llm = ScriptedLLM()
    llm.hang("EngageUser")
    with pytest.raises(EngineError) as info:
        await run(request(simple_graph(), "Hi"), ports(llm, call_timeout=0.2))
    assert info.value.http_error_code == 504


async def test_invalid_navigation_choice_is_an_engine_error():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "fly to the moon"})
    with pytest.raises(EngineError):
        await run(request(simple_graph(), "Hi"), ports(llm))


async def test_unknown_state_in_pointer_is_an_engine_error():
    with pytest.raises(EngineError):
        await run(request(simple_graph(), "Hi", state="nowhere"), ports())
