"""Given an action state (or a dynamic behavior) offering tools, when the model calls one before replying, then
tool-call events, engage_user_tool_call_logs and result persistence follow the spec."""

from __future__ import annotations

from tertulia.engine.contract import BehaviorVersion
from tertulia.engine.fakes import FakeTools, ScriptedLLM
from tests.engine.support import action, graph, ports, request, run

TOOL = "7" * 24


def spec(persistence: str) -> dict:
    return {"tool_id": TOOL, "version_constraint": "~=1.0", "additional_instruction": "Use for weather.",
            "audio_fillers": [], "audio_filler_triggered_after": 1.0, "result_persistence": persistence}


def tools() -> FakeTools:
    t = FakeTools()
    t.add(TOOL, lambda p: f"Rain in {p.get('city')}", name="weather", version="1.0.3")
    return t


async def test_state_tool_called_before_reply_with_ephemeral_result():
    g = graph([action("chat", ["Answer"], action_tool_call_specs=[spec("ephemeral")]), action("end", ["Close"])],
              initial="chat", terminal="end")
    llm = ScriptedLLM()
    llm.script_decision("EngageUser", {"tool": "weather", "input": {"city": "Porto"}})
    res = await run(request(g, "Will it rain?", state="chat"), ports(llm, tools=tools()))
    started = res.of("tool-call-started")[0]
    assert started == {"type": "tool-call-started", "tool_round_index": 0, "tool_id": TOOL, "tool_version": "1.0.3",
                       "input_params": {"city": "Porto"}}
    assert res.of("tool-call-ended")[0]["result"] == "Rain in Porto"
    assert res.insights["engage_user_tool_call_logs"] == [[{
        "tool_name": "weather", "tool_id": TOOL, "tool_version": "1.0.3", "input": {"city": "Porto"},
        "output": None, "duration": 0.001}]]
    assert res.insights["working_memory"] == []
    reply_prompt = [r for r in llm.requests if r.interaction == "EngageUser"][-1].messages[1].content
    assert "Rain in Porto" in reply_prompt
    assert res.types.index("tool-call-ended") < res.types.index("engage-user-message-fragment-generated")


async def test_no_tool_chosen_means_one_extra_decision_only():
    g = graph([action("chat", ["Answer"], action_tool_call_specs=[spec("persisted")]), action("end", ["Close"])],
              initial="chat", terminal="end")
    llm = ScriptedLLM()
    res = await run(request(g, "Hi", state="chat"), ports(llm, tools=tools()))
    assert "tool-call-started" not in res.types
    assert res.insights["engage_user_tool_call_logs"] == []


async def test_behavior_adds_tool_candidates_and_persisted_result_enters_working_memory():
    g = graph([action("chat", ["Answer"]), action("end", ["Close"])], initial="chat", terminal="end")
    behavior = BehaviorVersion("9" * 24, 1, ["weather forecast rain"], [
        {"type": "change-tool-candidates", "overrides_existing_tool_call_specs": True,
         "tool_call_specs": [{**spec("persisted"), "tool_name": "forecast"}]}])
    llm = ScriptedLLM()
    llm.script_decision("SelectDynamicBehavior", {"behavior": "behavior 1"})
    llm.script_decision("EngageUser", {"tool": "forecast", "input": {"city": "Faro"}})
    res = await run(request(g, "weather forecast: rain tomorrow?", state="chat", behaviors=[behavior]),
                    ports(llm, tools=tools()))
    assert res.of("navigate-state-machine-dynamic-behavior-override")[0]["overriding_tool_candidates"] is True
    assert res.insights["engage_user_tool_call_logs"][0][0]["output"] == "Rain in Faro"
    assert res.insights["engage_user_tool_call_logs"][0][0]["tool_name"] == "forecast"
    assert {"content": "Rain in Faro", "context": "Output of tool forecast"} in res.insights["working_memory"]
