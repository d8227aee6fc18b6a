"""Given an action-state graph, when the user speaks, then the engine navigates, streams and reports insights."""

from __future__ import annotations

from tertulia.engine.fakes import ScriptedLLM
from tests.engine.support import GRAPH_ID, ports, request, run, simple_graph


async def test_opening_turn_stays_in_initial_state_and_streams_reply():
    llm = ScriptedLLM()
    llm.script_text("EngageUser", "Hello there, how are you?")
    res = await run(request(simple_graph(), user=None), ports(llm))
    assert res.types == [
        "select-dynamic-behavior-vector-generated",
        "select-dynamic-behavior-relevance-retrieval-completed",
        "select-dynamic-behavior-completed",
        "check-if-active-memory-needed-completed",
        "extract-active-memories-completed",
        "navigate-state-machine-action-state-action-selected",
        *["engage-user-message-fragment-generated"] * 5,
    ]
    assert res.of("navigate-state-machine-action-state-action-selected")[0]["action"] == "Greet the user warmly"
    frags = res.of("engage-user-message-fragment-generated")
    assert [f["index"] for f in frags] == [0, 1, 2, 3, 4]
    assert [f["is_final"] for f in frags] == [False] * 4 + [True]
    assert "".join(res.fragments) == "Hello there, how are you?"
    out = res.outcome
    assert out.agent_message == "Hello there, how are you?"
    assert out.agent_message_id == "f" * 24
    assert out.state.as_json() == {"graph": [GRAPH_ID, 1], "state": "greet", "stack": []}
    assert out.insights == {
        "current_state_name": "greet",
        "current_state_action": "Greet the user warmly",
        "current_state_objective": "Objective of greet",
        "state_transition_logs": [],
        "working_memory": [],
        "reflections": [],
        "triggered_dynamic_behavior_set_version_info": None,
        "select_next_action_tool_call_logs": [],
        "engage_user_tool_call_logs": [],
    }
    assert not out.conversation_completed
    # greet has one action and one exit -> a navigation decision, then the reply
    assert out.llm_calls == 2 == llm.total_calls


async def test_exit_condition_moves_to_next_state_and_logs_transition():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1: The user has said hello"})
    llm.script_decision("SelectNextAction", {"next": "action 2"})
    res = await run(request(simple_graph(), "Hi!", state="greet"), ports(llm))
    assert res.types[5:8] == [
        "navigate-state-machine-exit-condition-selected",
        "navigate-state-machine-state-transitioned",
        "navigate-state-machine-action-state-action-selected",
    ]
    assert res.actions[5] == {
        "type": "navigate-state-machine-exit-condition-selected",
        "exit_condition": "The user has said hello",
        "next_state_name": "ask",
        "next_state_state_machine_version_info": [GRAPH_ID, 1],
    }
    assert res.actions[6] == {
        "type": "navigate-state-machine-state-transitioned",
        "prev_state": "greet",
        "prev_state_state_machine_version_info": [GRAPH_ID, 1],
        "next_state": "ask",
        "next_state_state_machine_version_info": [GRAPH_ID, 1],
    }
    assert res.insights["current_state_action"] == "Ask about food"
    assert res.insights["state_transition_logs"] == [{
        "type": "action",
        "previous_state": "greet",
        "previous_service_hierarchical_state_machine_version_info": [GRAPH_ID, 1],
        "next_state": "ask",
        "next_service_hierarchical_state_machine_version_info": [GRAPH_ID, 1],
        "previous_state_exit_condition_description": "The user has said hello",
        "tool_call_logs": [],
    }]
    assert res.outcome.state.state == "ask"
    assert res.outcome.llm_calls == 3


async def test_reaching_terminal_state_completes_conversation():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "The user wants to stop"})
    res = await run(request(simple_graph(), "I have to go", state="ask"), ports(llm))
    assert res.outcome.state.state == "bye"
    assert res.insights["current_state_action"] == "Say goodbye"
    assert res.outcome.conversation_completed
    # terminal: single action, no decision needed
    assert llm.calls["SelectNextAction"] == 1
