"""Given graphs with silent states (decision, recall, reflection, annotation, tool-call) and cross-graph references,
when a turn passes through them, then each emits its events and typed transition log."""

from __future__ import annotations

import pytest

from tertulia.engine.contract import EngineError
from tertulia.engine.fakes import FakeTools, ListMemories, ScriptedLLM
from tests.engine.support import GRAPH_ID, action, graph, ports, request, run

INFO = [GRAPH_ID, 1]


def silent_graph(middle: list[dict], entry: str) -> object:
    return graph(
        [action("start", ["Welcome"], [("User asks for help", entry)]), *middle,
         action("help", ["Help the user"], [("Done", "end")]), action("end", ["Close"])],
        initial="start", terminal="end",
    )


def go_exit(llm: ScriptedLLM) -> ScriptedLLM:
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    return llm


async def test_decision_state_routes_silently():
    llm = go_exit(ScriptedLLM())
    llm.script_decision("SelectNextActionForDecisionState", {"next": "exit 2"})
    g = silent_graph([{
        "type": "decision", "name": "route", "objective": "Route", "decision_guidelines": ["Be fair"],
        "exit_conditions": [{"description": "Needs nothing", "next_state": "end"},
                            {"description": "Needs help", "next_state": "help"}],
        "tool_call_specs": [], "audio_fillers": [], "audio_filler_triggered_after": 1.0,
    }], "route")
    res = await run(request(g, "help me", state="start"), ports(llm))
    nav = [t for t in res.types if t.startswith("navigate")]
    assert nav == [
        "navigate-state-machine-exit-condition-selected", "navigate-state-machine-state-transitioned",
        "navigate-state-machine-decision-state-decision-started",
        "navigate-state-machine-exit-condition-selected", "navigate-state-machine-state-transitioned",
        "navigate-state-machine-action-state-action-selected",
    ]
    logs = res.insights["state_transition_logs"]
    assert [log["type"] for log in logs] == ["action", "decision"]
    assert logs[1]["previous_state_exit_condition_description"] == "Needs help"
    assert logs[1]["tool_call_logs"] == []
    assert res.outcome.state.state == "help"
    assert llm.calls["SelectNextActionForDecisionState"] == 1


async def test_recall_state_static_queries_skip_already_performed_and_fill_working_memory():
    memories = ListMemories([("User sleeps 5 hours a night", "sleep habits"), ("User likes tea", "diet")])
    g = silent_graph([{"type": "recall", "name": "recall", "queries": ["sleep hours", "coffee intake"],
                       "requested_information": None, "next_state": "help"}], "recall")
    req = request(g, "help", state="start", performed_queries=["coffee intake"])
    res = await run(req, ports(go_exit(ScriptedLLM()), memories=memories))
    assert res.of("navigate-state-machine-recall-state-static-queries-retrieved") == [{
        "type": "navigate-state-machine-recall-state-static-queries-retrieved",
        "static_queries": ["sleep hours", "coffee intake"]}]
    retrieved = res.of("navigate-state-machine-recall-state-active-memory-retrieved")[0]
    assert retrieved["queries_and_responses"] == [["sleep hours", "User sleeps 5 hours a night"]]
    log = res.insights["state_transition_logs"][1]
    assert log["type"] == "recall" and log["performed_queries"] == ["sleep hours"]
    assert {"content": "User sleeps 5 hours a night", "context": "sleep habits"} in res.insights["working_memory"]
    assert res.outcome.performed_queries == ["sleep hours"]


async def test_recall_state_generates_dynamic_queries():
    llm = go_exit(ScriptedLLM())
    llm.script_decision("GenerateRecallQueries", {"queries": ["favourite drink"]})
    memories = ListMemories([("User likes tea", "favourite drink")])
    g = silent_graph([{"type": "recall", "name": "recall", "queries": None,
                       "requested_information": "What the user drinks", "next_state": "help"}], "recall")
    res = await run(request(g, "help", state="start"), ports(llm, memories=memories))
    assert res.of("navigate-state-machine-recall-state-dynamic-queries-generated")[0] == {
        "type": "navigate-state-machine-recall-state-dynamic-queries-generated",
        "dynamic_queries": ["favourite drink"], "requested_information": "What the user drinks"}
    assert res.insights["state_transition_logs"][1]["performed_queries"] == ["favourite drink"]


async def test_reflection_state_writes_bounded_inner_thought():
    llm = go_exit(ScriptedLLM())
    llm.script_text("GenerateReflection", "one two three four five six seven")
    g = silent_graph([{"type": "reflection", "name": "think", "problem": "What does the user need?", "word_limit": 4,
                       "next_state": "help", "tool_call_specs": [], "audio_fillers": [],
                       "audio_filler_triggered_after": 1.0}], "think")
    res = await run(request(g, "help", state="start"), ports(llm))
    assert res.of("navigate-state-machine-reflection-state-prompt-retrieved")[0]["prompt"] == "What does the user need?"
    assert res.of("navigate-state-machine-reflection-state-reflection-generated")[0]["reflection"] == "one two three four"
    assert res.insights["reflections"] == ["one two three four"]
    thought = res.outcome.inner_thoughts[0]
    log = res.insights["state_transition_logs"][1]
    assert log == {**log, "type": "reflection", "inner_thought_message_id": thought.id, "tool_call_logs": []}
    assert thought.text == "one two three four"


async def test_annotation_state_inserts_fixed_inner_thought():
    g = silent_graph([{"type": "annotation", "name": "note", "inner_thought": "User entered help flow",
                       "next_state": "help"}], "note")
    res = await run(request(g, "help", state="start"), ports(go_exit(ScriptedLLM())))
    assert res.of("navigate-state-machine-annotation-state-annotation-retrieved")[0]["annotation"] == "User entered help flow"
    log = res.insights["state_transition_logs"][1]
    assert log["type"] == "annotation" and log["inner_thought_message_id"] == res.outcome.inner_thoughts[0].id


async def test_tool_call_state_runs_designated_tool_with_generated_params():
    llm = go_exit(ScriptedLLM())
    llm.script_decision("GenerateToolParams", {"city": "Lisbon"})
    tools = FakeTools()
    tools.add("t" * 24, lambda p: f"Sunny in {p['city']}", name="weather", version="1.2.0",
              input_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    g = silent_graph([{
        "type": "tool-call", "name": "lookup", "next_state": "help",
        "designated_tool": {"tool_id": "t" * 24, "version_constraint": ">=1", "additional_instruction": "",
                            "audio_fillers": [], "audio_filler_triggered_after": 1.0,
                            "result_persistence": "persisted-preferred"},
        "designated_tool_call_params_generation_audio_fillers": [],
        "designated_tool_call_params_generation_audio_filler_triggered_after": 1.0,
        "designated_tool_call_objective": "Get weather", "designated_tool_call_context": "Trip",
        "designated_tool_call_guidances": [], "designated_tool_call_validations": [], "tool_call_specs": [],
    }], "lookup")
    res = await run(request(g, "help", state="start"), ports(llm, tools=tools))
    assert [t for t in res.types if "tool" in t] == [
        "designated-tool-retrieved", "designated-tool-call-params-generated", "tool-call-started", "tool-call-ended",
        "navigate-state-machine-tool-call-state-tool-output-available",
    ]
    out = res.of("navigate-state-machine-tool-call-state-tool-output-available")[0]
    assert out["tool_output"] == "Sunny in Lisbon" and out["input_arguments"] == {"city": "Lisbon"}
    assert tools.invocations == [("t" * 24, ">=1", {"city": "Lisbon"})]
    log = res.insights["state_transition_logs"][1]
    assert log["type"] == "tool-call" and log["tool_call_logs"] == []
    assert log["designated_tool_call_log"] == {"tool_name": "weather", "tool_id": "t" * 24, "tool_version": "1.2.0",
                                               "input": {"city": "Lisbon"}, "output": "Sunny in Lisbon",
                                               "duration": 0.001}
    assert {"content": "Sunny in Lisbon", "context": "Output of tool weather in state lookup"} in res.insights["working_memory"]


async def test_cross_graph_reference_pushes_and_jumps_back():
    sub = graph([
        action("intro", ["Explain the questionnaire"], [("User ready", "q1")]),
        {"type": "annotation", "name": "q1", "inner_thought": "Questionnaire done", "next_state": "fin"},
        action("fin", ["Wrap up"]),
    ], initial="intro", terminal="fin", graph_id="b" * 24, version=3)
    main = graph([
        action("start", ["Welcome"], [("User wants the questionnaire", ["quiz.intro", "after"])]),
        action("after", ["Discuss results"], [("Done", "end")]),
        action("end", ["Close"]),
    ], initial="start", terminal="end", references={"quiz": ["b" * 24, 3]})
    llm = go_exit(ScriptedLLM())
    llm.script_decision("SelectNextAction", {"next": "action 1"})
    res = await run(request(main, "quiz please", state="start", referenced={"quiz": sub}), ports(llm))
    assert res.outcome.state.as_json() == {"graph": ["b" * 24, 3], "state": "intro",
                                           "stack": [{"graph_id": GRAPH_ID, "graph_version": 1, "jumpback_state": "after"}]}
    assert res.actions[5]["next_state_name"] == "intro"
    assert res.actions[5]["next_state_state_machine_version_info"] == ["b" * 24, 3]
    # next turn: leave intro, annotation, reach the sub-graph's terminal -> jumpback to "after"
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    llm.script_decision("SelectNextAction", {"next": "action 1"})
    req = request(main, "ready", state="intro", referenced={"quiz": sub}, pointer_graph=("b" * 24, 3),
                  stack=res.outcome.state.stack)
    res2 = await run(req, ports(llm))
    assert [log["type"] for log in res2.insights["state_transition_logs"]] == ["action", "annotation", "jumpback"]
    jb = res2.insights["state_transition_logs"][2]
    assert jb == {"type": "jumpback", "previous_state": "fin",
                  "previous_service_hierarchical_state_machine_version_info": ["b" * 24, 3],
                  "next_state": "after", "next_service_hierarchical_state_machine_version_info": INFO}
    assert res2.outcome.state.as_json() == {"graph": INFO, "state": "after", "stack": []}
    assert not res2.outcome.conversation_completed


async def test_transition_loop_is_bounded():
    g = graph([
        {"type": "annotation", "name": "a", "inner_thought": "a", "next_state": "b"},
        {"type": "annotation", "name": "b", "inner_thought": "b", "next_state": "a"},
        action("start", ["Welcome"], [("go", "a")]), action("end", ["Close"]),
    ], initial="start", terminal="end")
    with pytest.raises(EngineError) as info:
        await run(request(g, "hi", state="start"), ports(go_exit(ScriptedLLM()), max_transitions=5))
    assert "more than 5 state transitions" in info.value.description


async def test_global_guidelines_are_appended_to_every_action_state():
    g = graph([action("start", ["Welcome"], [("go", "end")], action_guidelines=["own rule"]), action("end", ["Close"])],
              initial="start", terminal="end", global_action_guidelines=["global rule"],
              global_boundary_constraints=["never give medical diagnoses"])
    llm = ScriptedLLM()
    await run(request(g, "hi", state="start"), ports(llm))
    engage = [r for r in llm.requests if r.interaction == "EngageUser"][0]
    system = engage.messages[1].content
    assert "- own rule" in system and "- global rule" in system and "- never give medical diagnoses" in system


async def test_returning_user_starts_in_returning_initial_state():
    g = graph([action("new", ["Onboard"]), action("back", ["Welcome back"]), action("end", ["Close"])],
              initial="new", terminal="end", returning_user_initial_state="back")
    res = await run(request(g, None, returning=True), ports())
    assert res.insights["current_state_name"] == "back"
    res = await run(request(g, None), ports())
    assert res.insights["current_state_name"] == "new"
