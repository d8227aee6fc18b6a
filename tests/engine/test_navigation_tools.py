"""Given states whose navigation step may call tools (an action state's exit-condition tools, a decision's, a
reflection's, a tool-call state's helper tools), when the model calls one, then tool-call events stream, results follow
result_persistence and the logs land in the right insights; states without tools cost no extra LLM call."""

from __future__ import annotations

import asyncio

import pytest

from tertulia.engine.contract import EngineError
from tertulia.engine.fakes import FakeTools, ScriptedLLM
from tests.engine.support import GRAPH_ID, action, graph, ports, request, run

TOOL = "7" * 24
HELPER = "8" * 24
INFO = [GRAPH_ID, 1]


def spec(persistence: str = "ephemeral", tool_id: str = TOOL, **kw) -> dict:
    return {"tool_id": tool_id, "version_constraint": "~=1.0", "additional_instruction": "", "audio_fillers": [],
            "audio_filler_triggered_after": 1.0, "result_persistence": persistence, **kw}


def tools() -> FakeTools:
    t = FakeTools()
    t.add(TOOL, lambda p: f"Rain in {p.get('city')}", name="weather", version="1.0.3")
    t.add(HELPER, "Trip to Lisbon", name="trips", version="1.1.0")
    return t


def log(output: str | None, city: str = "Porto") -> dict:
    return {"tool_name": "weather", "tool_id": TOOL, "tool_version": "1.0.3", "input": {"city": city},
            "output": output, "duration": 0.001}


def weather(city: str = "Porto", **extra) -> dict:
    return {"tool": "weather", "input": {"city": city}, **extra}


def two_states(exit_tools: list[dict], ask_tools: list[dict] | None = None):
    return graph([
        action("greet", ["Greet"], [("User asked about weather", "ask")], exit_condition_tool_call_specs=exit_tools),
        action("ask", ["Answer", "Ask more"], [("Done", "end")], exit_condition_tool_call_specs=ask_tools or []),
        action("end", ["Close"]),
    ], initial="greet", terminal="end")


async def test_exit_condition_tool_is_called_while_deciding_and_logged_on_the_action_transition():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", weather(next="action 1"))
    llm.script_decision("SelectNextAction", {"tool": "none", "input": {}, "next": "exit 1"})
    llm.script_decision("SelectNextAction", {"next": "action 1"})
    t = tools()
    res = await run(request(two_states([spec()]), "Will it be wet in Porto?", state="greet"), ports(llm, tools=t))
    assert res.types[5:9] == ["tool-call-started", "tool-call-ended", "navigate-state-machine-exit-condition-selected",
                              "navigate-state-machine-state-transitioned"]
    assert res.actions[5] == {"type": "tool-call-started", "tool_round_index": 0, "tool_id": TOOL,
                              "tool_version": "1.0.3", "input_params": {"city": "Porto"}}
    assert res.actions[6] == {"type": "tool-call-ended", "tool_round_index": 0, "tool_id": TOOL, "tool_version": "1.0.3",
                              "input_parameters": {"city": "Porto"}, "result": "Rain in Porto", "duration": 0.001}
    assert t.invocations == [(TOOL, "~=1.0", {"city": "Porto"})]  # never run twice (no speculative decision)
    assert res.insights["state_transition_logs"][0]["tool_call_logs"] == [[log(None)]]  # ephemeral: null output
    assert res.insights["select_next_action_tool_call_logs"] == []  # the action was chosen in `ask`, without tools
    assert res.insights["working_memory"] == []
    greet_calls = [(n, s) for n, s in llm.schemas if n == "select_next_action"][:2]
    assert "tool" in greet_calls[0][1]["properties"] and greet_calls[0][1]["properties"]["tool"]["enum"] == [
        "none", "weather"]
    second = [r for r in llm.requests if r.interaction == "SelectNextAction"][1].messages[1].content
    assert "Rain in Porto" in second  # the ephemeral result reaches the rest of this decision
    later = [r for r in llm.requests if r.interaction == "SelectNextAction"][2].messages[1].content
    assert "Rain in Porto" not in later and "tool" not in llm.schemas[2][1]["properties"]


async def test_tools_of_the_final_select_next_action_fill_select_next_action_tool_call_logs():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", weather("Faro", next="exit 1"))
    llm.script_decision("SelectNextAction", {"tool": "none", "input": {}, "next": "action 2"})
    res = await run(request(two_states([], [spec("persisted")]), "Weather?", state="ask"), ports(llm, tools=tools()))
    assert res.insights["current_state_action"] == "Ask more"
    assert res.insights["select_next_action_tool_call_logs"] == [[log("Rain in Faro", "Faro")]]
    assert res.insights["state_transition_logs"] == []
    assert {"content": "Rain in Faro", "context": "Output of tool weather in state ask"} in res.insights["working_memory"]
    assert res.outcome.llm_calls == 3  # two decision rounds + the reply


async def test_state_with_exit_tools_the_model_does_not_use_costs_no_extra_call():
    llm = ScriptedLLM()  # the scripted default answer picks tool "none"
    res = await run(request(two_states([], [spec()]), "Hi", state="ask"), ports(llm, tools=tools()))
    assert "tool-call-started" not in res.types
    assert res.outcome.llm_calls == 2 == llm.total_calls
    assert res.insights["select_next_action_tool_call_logs"] == []


async def test_states_without_tools_offer_none_and_cost_no_extra_call():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    g = graph([
        action("greet", ["Greet"], [("Go", "route")]),
        {"type": "decision", "name": "route", "objective": "Route", "decision_guidelines": [], "tool_call_specs": [],
         "audio_fillers": [], "audio_filler_triggered_after": 1.0,
         "exit_conditions": [{"description": "A", "next_state": "think"}, {"description": "B", "next_state": "end"}]},
        {"type": "reflection", "name": "think", "problem": "What next?", "word_limit": 20, "next_state": "end",
         "tool_call_specs": [], "audio_fillers": [], "audio_filler_triggered_after": 1.0},
        action("end", ["Close"]),
    ], initial="greet", terminal="end")
    res = await run(request(g, "Hi", state="greet"), ports(llm))
    assert [c for c in llm.calls.items()] == [
        ("SelectNextAction", 1), ("SelectNextActionForDecisionState", 1), ("GenerateReflection", 1), ("EngageUser", 1)]
    assert all("tool" not in s.get("properties", {}) for _, s in llm.schemas)
    assert [entry["tool_call_logs"] for entry in res.insights["state_transition_logs"]] == [[], [], []]


async def test_decision_state_calls_its_tools_and_logs_them_on_the_decision_transition():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    llm.script_decision("SelectNextActionForDecisionState", weather("Lisbon", next="exit 1"))
    llm.script_decision("SelectNextActionForDecisionState", {"tool": "none", "input": {}, "next": "exit 2"})
    g = graph([
        action("greet", ["Greet"], [("Go", "route")]),
        {"type": "decision", "name": "route", "objective": "Route by weather", "decision_guidelines": [],
         "tool_call_specs": [spec()], "audio_fillers": [], "audio_filler_triggered_after": 1.0,
         "exit_conditions": [{"description": "Sunny", "next_state": "end"},
                             {"description": "Rainy", "next_state": "indoor"}]},
        action("indoor", ["Suggest indoor plans"], [("Done", "end")]),
        action("end", ["Close"]),
    ], initial="greet", terminal="end")
    res = await run(request(g, "Plans?", state="greet"), ports(llm, tools=tools()))
    started = res.types.index("navigate-state-machine-decision-state-decision-started")
    assert res.types[started + 1:started + 4] == [
        "tool-call-started", "tool-call-ended", "navigate-state-machine-exit-condition-selected"]
    decision_log = res.insights["state_transition_logs"][1]
    assert decision_log["type"] == "decision" and decision_log["previous_state_exit_condition_description"] == "Rainy"
    assert decision_log["tool_call_logs"] == [[log(None, "Lisbon")]]
    assert res.outcome.state.state == "indoor"
    second = [r for r in llm.requests if r.interaction == "SelectNextActionForDecisionState"][1]
    assert "Rain in Lisbon" in second.messages[1].content


async def test_reflection_may_call_tools_before_thinking():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    llm.script_decision("GenerateReflection", weather("Braga"))
    llm.script_text("GenerateReflection", "Rain expected; suggest indoor plans.")
    g = graph([
        action("greet", ["Greet"], [("Go", "think")]),
        {"type": "reflection", "name": "think", "problem": "Is it a good day out?", "word_limit": 20,
         "next_state": "end", "tool_call_specs": [spec("persisted-preferred")], "audio_fillers": [],
         "audio_filler_triggered_after": 1.0},
        action("end", ["Close"]),
    ], initial="greet", terminal="end")
    res = await run(request(g, "Go out?", state="greet"), ports(llm, tools=tools()))
    nav = [t for t in res.types if "reflection" in t or t.startswith("tool-call")]
    assert nav == ["navigate-state-machine-reflection-state-prompt-retrieved", "tool-call-started", "tool-call-ended",
                   "navigate-state-machine-reflection-state-reflection-generated"]
    reflection_log = res.insights["state_transition_logs"][1]
    assert reflection_log["type"] == "reflection"
    assert reflection_log["tool_call_logs"] == [[log("Rain in Braga", "Braga")]]
    assert {"content": "Rain in Braga", "context": "Output of tool weather in state think"} in res.insights[
        "working_memory"]
    assert llm.calls["GenerateReflection"] == 3  # tool choice, "none", then the thought
    thought = [r for r in llm.requests if r.interaction == "GenerateReflection"][-1].messages[1].content
    assert "Rain in Braga" in thought


async def test_tool_call_state_helper_tools_are_logged_apart_from_the_designated_call():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    llm.script_decision("GenerateToolParams", {"tool": "trips", "input": {}})
    llm.script_decision("GenerateToolParams", {"tool": "none", "input": {}})
    llm.script_decision("GenerateToolParams", {"city": "Lisbon"})
    g = graph([
        action("greet", ["Greet"], [("Go", "lookup")]),
        {"type": "tool-call", "name": "lookup", "next_state": "end", "designated_tool": spec("persisted"),
         "designated_tool_call_params_generation_audio_fillers": [],
         "designated_tool_call_params_generation_audio_filler_triggered_after": 1.0,
         "designated_tool_call_objective": "Weather at the trip destination", "designated_tool_call_context": "",
         "designated_tool_call_guidances": [], "designated_tool_call_validations": [],
         "tool_call_specs": [spec("ephemeral", HELPER)]},
        action("end", ["Close"]),
    ], initial="greet", terminal="end")
    t = tools()
    res = await run(request(g, "Trip weather?", state="greet"), ports(llm, tools=t))
    assert [a.get("tool_id") for a in res.actions if a["type"] == "tool-call-started"] == [HELPER, TOOL]
    assert [t_ for t_ in res.types if "tool" in t_] == [
        "designated-tool-retrieved", "tool-call-started", "tool-call-ended", "designated-tool-call-params-generated",
        "tool-call-started", "tool-call-ended", "navigate-state-machine-tool-call-state-tool-output-available"]
    entry = res.insights["state_transition_logs"][1]
    assert entry["tool_call_logs"] == [[{"tool_name": "trips", "tool_id": HELPER, "tool_version": "1.1.0",
                                         "input": {}, "output": None, "duration": 0.001}]]
    assert entry["designated_tool_call_log"] == log("Rain in Lisbon", "Lisbon")
    params_prompt = [r for r in llm.requests if r.interaction == "GenerateToolParams"][-1].messages[1].content
    assert "Trip to Lisbon" in params_prompt
    assert t.invocations == [(HELPER, "~=1.0", {}), (TOOL, "~=1.0", {"city": "Lisbon"})]


class BrokenTools(FakeTools):
    async def invoke(self, tool_id, version_constraint, params):
        raise ConnectionError("tool host unreachable")


async def test_a_tool_runner_failure_while_deciding_voids_the_turn_with_a_clear_error():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", weather(next="action 1"))
    t = BrokenTools()
    t.add(TOOL, "unused", name="weather", version="1.0.3")
    before = asyncio.all_tasks()  # the loop may be shared with other tests' background tasks: judge only ours
    with pytest.raises(EngineError) as info:
        await run(request(two_states([spec()]), "Weather?", state="greet"), ports(llm, tools=t))
    assert info.value.http_error_code == 502 and "could not be invoked" in info.value.description
    await asyncio.sleep(0)
    assert [t_ for t_ in asyncio.all_tasks() - before if not t_.done()] == []  # no turn task left running
