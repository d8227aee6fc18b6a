"""Given a step with audio fillers (decision, reflection, designated-tool params, a tool via its ToolCallSpec), when it
outlasts its audio_filler_triggered_after, then one action-too-long {filler, previously_started_event} is emitted while
the step goes on; fast steps and steps without fillers emit none."""

from __future__ import annotations

import pytest

from tertulia.engine.fakes import FakeTools, ScriptedLLM
from tests.engine.support import action, graph, ports, request, run

TOOL = "7" * 24
FILLERS = ["One moment...", "Let me think about that."]
TOO_LONG = "action-too-long"


def decision_graph(fillers: list[str], after: float = 0.05):
    return graph([
        action("greet", ["Greet"], [("Go", "route")]),
        {"type": "decision", "name": "route", "objective": "Route", "decision_guidelines": [], "tool_call_specs": [],
         "audio_fillers": fillers, "audio_filler_triggered_after": after,
         "exit_conditions": [{"description": "A", "next_state": "end"}, {"description": "B", "next_state": "end"}]},
        action("end", ["Close"]),
    ], initial="greet", terminal="end")


def llm_for_decision(slow: float = 0.0) -> ScriptedLLM:
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    if slow:
        llm.slow("SelectNextActionForDecisionState", slow)
    return llm


async def test_slow_decision_with_fillers_emits_one_action_too_long_while_deciding():
    res = await run(request(decision_graph(FILLERS), "Hi", state="greet", voice_response=True), ports(llm_for_decision(slow=0.4)))
    fillers = res.of(TOO_LONG)
    assert len(fillers) == 1
    assert fillers[0]["filler"] in FILLERS
    assert fillers[0]["previously_started_event"] == {"type": "navigate-state-machine-decision-state-decision-started"}
    started = res.types.index("navigate-state-machine-decision-state-decision-started")
    assert res.types[started + 1:started + 3] == [TOO_LONG, "navigate-state-machine-exit-condition-selected"]


@pytest.mark.parametrize(("fillers", "slow"), [(FILLERS, 0.0), ([], 0.4)], ids=["fast", "no-fillers"])
async def test_no_filler_for_a_fast_decision_or_a_state_without_fillers(fillers, slow):
    res = await run(request(decision_graph(fillers), "Hi", state="greet", voice_response=True), ports(llm_for_decision(slow)))
    assert TOO_LONG not in res.types
    assert res.outcome.state.state == "end"


async def test_filler_choice_is_reproducible_for_the_same_interaction():
    chosen = set()
    for _ in range(3):
        res = await run(request(decision_graph(FILLERS), "Hi", state="greet", voice_response=True), ports(llm_for_decision(slow=0.2)))
        chosen.add(res.of(TOO_LONG)[0]["filler"])
    assert len(chosen) == 1


async def test_slow_reflection_emits_filler_started_by_its_prompt_event():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    llm.slow("GenerateReflection", 0.4)
    g = graph([
        action("greet", ["Greet"], [("Go", "think")]),
        {"type": "reflection", "name": "think", "problem": "What matters?", "word_limit": 10, "next_state": "end",
         "tool_call_specs": [], "audio_fillers": ["Hmm..."], "audio_filler_triggered_after": 0.05},
        action("end", ["Close"]),
    ], initial="greet", terminal="end")
    res = await run(request(g, "Hi", state="greet", voice_response=True), ports(llm))
    assert res.of(TOO_LONG) == [{"type": TOO_LONG, "filler": "Hmm...", "previously_started_event": {
        "type": "navigate-state-machine-reflection-state-prompt-retrieved", "prompt": "What matters?"}}]
    assert res.types.index(TOO_LONG) < res.types.index("navigate-state-machine-reflection-state-reflection-generated")


def tool_state(designated: dict, params_fillers: list[str]) -> dict:
    return {"type": "tool-call", "name": "lookup", "next_state": "end", "designated_tool": designated,
            "designated_tool_call_params_generation_audio_fillers": params_fillers,
            "designated_tool_call_params_generation_audio_filler_triggered_after": 0.05,
            "designated_tool_call_objective": "Weather", "designated_tool_call_context": "",
            "designated_tool_call_guidances": [], "designated_tool_call_validations": [], "tool_call_specs": []}


def tool_spec(fillers: list[str]) -> dict:
    return {"tool_id": TOOL, "version_constraint": ">=1", "additional_instruction": "", "audio_fillers": fillers,
            "audio_filler_triggered_after": 0.05, "result_persistence": "ephemeral"}


async def test_slow_designated_params_and_slow_tool_each_emit_their_own_filler():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    llm.script_decision("GenerateToolParams", {"city": "Porto"})
    llm.slow("GenerateToolParams", 0.4)
    tools = FakeTools(delays={TOOL: 0.4})
    tools.add(TOOL, "Sunny", name="weather", version="2.0.0")
    g = graph([action("greet", ["Greet"], [("Go", "lookup")]),
               tool_state(tool_spec(["Checking the forecast..."]), ["Getting that ready..."]),
               action("end", ["Close"])], initial="greet", terminal="end")
    res = await run(request(g, "Weather?", state="greet", voice_response=True), ports(llm, tools=tools))
    assert [t for t in res.types if "tool" in t or t == TOO_LONG] == [
        "designated-tool-retrieved", TOO_LONG, "designated-tool-call-params-generated",
        "tool-call-started", TOO_LONG, "tool-call-ended", "navigate-state-machine-tool-call-state-tool-output-available"]
    params_filler, tool_filler = res.of(TOO_LONG)
    assert params_filler == {"type": TOO_LONG, "filler": "Getting that ready...", "previously_started_event": {
        "type": "designated-tool-retrieved", "tool_id": TOOL, "tool_version": "2.0.0"}}
    assert tool_filler == {"type": TOO_LONG, "filler": "Checking the forecast...", "previously_started_event": {
        "type": "tool-call-started", "tool_round_index": 0, "tool_id": TOOL, "tool_version": "2.0.0",
        "input_params": {"city": "Porto"}}}


async def test_slow_engage_tool_with_fillers_emits_filler_before_the_reply():
    llm = ScriptedLLM()
    llm.script_decision("EngageUser", {"tool": "weather", "input": {"city": "Faro"}})
    tools = FakeTools(delays={TOOL: 0.4})
    tools.add(TOOL, "Sunny", name="weather", version="2.0.0")
    g = graph([action("chat", ["Answer"], action_tool_call_specs=[tool_spec(["Looking it up..."])]),
               action("end", ["Close"])], initial="chat", terminal="end")
    res = await run(request(g, "Weather in Faro?", state="chat", voice_response=True), ports(llm, tools=tools))
    assert [t for t in res.types if t.startswith("tool-call") or t == TOO_LONG] == [
        "tool-call-started", TOO_LONG, "tool-call-ended"]
    assert res.of(TOO_LONG)[0]["previously_started_event"]["type"] == "tool-call-started"


async def test_text_replies_get_no_spoken_fillers():
    res = await run(request(decision_graph(FILLERS), "Hi", state="greet"), ports(llm_for_decision(slow=0.4)))
    assert "action-too-long" not in res.types
