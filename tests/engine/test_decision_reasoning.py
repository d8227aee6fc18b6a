"""Brief decision reasoning (``Ports.reasoning == "brief"``; small self-hosted models default to ``checklist``): the prompts
frame what the user just said, the schemas restate it before choosing options by their own text, answers parse in
either style, exits are listed in a seeded order, a second transition in one turn is questioned, and a plain
action-state turn still costs 2 LLM calls."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tertulia.engine.decisions import STAY, exit_order, resolve_brief
from tertulia.engine.fakes import ScriptedLLM
from tertulia.engine.wiring import decision_reasoning
from tests.engine.support import action, graph, ports, request, run, simple_graph

BOOKING = graph([
    action("greet", ["Greet the patient"], [("The patient wants to book an appointment", "collect"),
                                            ("The patient wants to cancel an appointment", "cancel")]),
    action("collect", ["Ask for the name", "Ask for a day"], [("The patient has given a name and a day", "confirm")]),
    action("confirm", ["Read the booking back"], [("The patient confirms", "end")]),
    action("cancel", ["Ask which appointment"], [("The patient said which one", "end")]),
    action("end", ["Say goodbye"]),
], initial="greet", terminal="end")


def brief(llm: ScriptedLLM, **kw):
    return ports(llm, reasoning="brief", **kw)


def nav_requests(llm: ScriptedLLM) -> list:
    return [r for r in llm.requests if r.interaction == "SelectNextAction"]


async def test_brief_schema_restates_then_names_the_exit_by_its_text():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"user_just_said": "wants to book",
                                             "exit_condition_met": "The patient wants to book an appointment"})
    llm.script_decision("SelectNextAction", {"user_just_said": "wants to book", "exit_condition_met": STAY,
                                             "action": "Ask for a day"})
    res = await run(request(BOOKING, "I'd like to see Dr. Patel next week", state="greet"), brief(llm))
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for a day"
    name, schema = llm.schemas[0]
    assert name == "select_next_action"
    assert list(schema["properties"]) == ["user_just_said", "exit_condition_met"]  # greet has one action
    assert schema["properties"]["user_just_said"]["maxLength"] > 0
    assert schema["properties"]["exit_condition_met"]["enum"][0] == STAY
    assert set(schema["properties"]["exit_condition_met"]["enum"][1:]) == {
        "The patient wants to book an appointment", "The patient wants to cancel an appointment"}
    assert list(llm.schemas[1][1]["properties"]) == ["user_just_said", "exit_condition_met", "action"]
    prompt = nav_requests(llm)[0].messages[1].content
    # the latest message framed on its own, after the conversation, right before the options
    assert prompt.index("## Conversation so far") < prompt.index("## What the user just said\nI'd like to see Dr. Patel")
    assert prompt.index("## What the user just said") < prompt.index("## Exit conditions")
    assert "exit 1" not in prompt  # options are named by their own text, not labels


async def test_a_second_transition_in_the_same_turn_is_questioned():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"user_just_said": "x",
                                             "exit_condition_met": "The patient wants to book an appointment"})
    res = await run(request(BOOKING, "Book me in, I'm Ann, Tuesday", state="greet"), brief(llm))
    assert res.insights["current_state_name"] == "collect"  # the default answer stays
    first, second = nav_requests(llm)[0].messages[1].content, nav_requests(llm)[1].messages[1].content
    assert "You entered this state during this turn" not in first
    assert "You entered this state during this turn" in second
    assert '"The patient wants to book an appointment" was met' in second


async def test_the_second_transition_check_is_in_the_one_pick_prompt_too():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    await run(request(BOOKING, "Book me in", state="greet"), ports(llm))
    assert "You entered this state during this turn" in nav_requests(llm)[1].messages[1].content


def test_answers_parse_in_either_style_and_unknown_options_fail():
    exits = [{"description": "The patient confirms", "next_state": "end"},
             {"description": "The patient wants a change", "next_state": "collect"}]
    actions = ["Read the booking back", "Ask what to change"]
    assert resolve_brief({"user_just_said": "", "exit_condition_met": "the patient wants a change."}, actions,
                         exits) == ("exit", 1)
    assert resolve_brief({"exit_condition_met": STAY, "action": "Ask what to change"}, actions, exits) == ("action", 1)
    assert resolve_brief({"exit_condition_met": "none"}, actions[:1], exits) == ("action", 0)
    assert resolve_brief({"next": "exit 2"}, actions, exits) == ("exit", 1)  # a label answer
    assert resolve_brief({"exit_condition_met": "collect"}, actions, exits) == ("exit", 1)  # a target state name
    from tertulia.engine.contract import EngineError

    with pytest.raises(EngineError) as info:
        resolve_brief({"exit_condition_met": "The patient dances"}, actions, exits)
    assert info.value.http_error_code == 502


def test_exit_order_is_seeded_not_authored():
    exits = [{"description": f"exit {i}"} for i in range(4)]
    orders = {tuple(exit_order(exits, f"state|message {k}")) for k in range(12)}
    assert exit_order(exits, "s|same") == exit_order(exits, "s|same")  # deterministic: a run can be repeated
    assert len(orders) > 3 and {o[0] for o in orders} != {0}  # the author's first exit is not always listed first
    assert all(sorted(o) == [0, 1, 2, 3] for o in orders)


async def test_brief_decision_state_restates_key_facts_and_names_its_exit():
    g = graph([
        action("start", ["Ask"], [("The user described symptoms", "triage")]),
        {"type": "decision", "name": "triage", "objective": "Decide urgency", "decision_guidelines": ["Chest pain is urgent"],
         "exit_conditions": [{"description": "The symptoms are not urgent", "next_state": "book"},
                             {"description": "The symptoms could be life-threatening", "next_state": "emergency"}],
         "tool_call_specs": [], "audio_fillers": [], "audio_filler_triggered_after": 5},
        action("book", ["Offer a slot"], [("done", "end")]),
        action("emergency", ["Call 911"], [("done", "end")]),
        action("end", ["Bye"]),
    ], initial="start", terminal="end")
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"user_just_said": "chest pain",
                                             "exit_condition_met": "The user described symptoms"})
    llm.script_decision("SelectNextActionForDecisionState", {"key_facts": "crushing chest pain for 20 minutes",
                                                             "exit_condition": "The symptoms could be life-threatening"})
    res = await run(request(g, "I've had crushing chest pain for 20 minutes", state="start"), brief(llm))
    assert res.insights["current_state_name"] == "emergency"
    name, schema = next(s for s in llm.schemas if s[0] == "select_next_state_for_decision_state")
    assert list(schema["properties"]) == ["key_facts", "exit_condition"]
    assert "exit 1" not in next(r for r in llm.requests if r.interaction == "SelectNextActionForDecisionState"
                                ).messages[1].content


async def test_plain_action_state_turn_still_costs_two_llm_calls():
    llm = ScriptedLLM()
    res = await run(request(simple_graph(), "Tell me about sleep", state="ask"), brief(llm))
    assert res.outcome.llm_calls == 2 and llm.calls["SelectNextAction"] == 1 and llm.calls["EngageUser"] == 1


def _settings(**kw):
    base = {"decision_reasoning": "auto", "llm_provider": "openai", "llm_base_url": None}
    return SimpleNamespace(**(base | kw))


@pytest.mark.parametrize(("kw", "expected"), [
    ({"llm_base_url": "https://api.openai.com/v1"}, "none"),
    ({"llm_base_url": "https://my-resource.openai.azure.com/openai"}, "none"),
    ({"llm_base_url": "http://127.0.0.1:11434/v1"}, "contrast"),
    ({"llm_base_url": "http://localhost:8080/v1"}, "contrast"),
    ({"llm_base_url": "http://192.168.1.20:8000/v1"}, "contrast"),
    ({"llm_base_url": "http://ollama:11434/v1"}, "contrast"),
    ({"llm_provider": "local"}, "checklist"),  # the packaged SmolLM2-135M
    ({"llm_provider": "local", "local_model_path": "/models/qwen2.5-1.5b.gguf"}, "contrast"),
    ({"llm_base_url": "http://127.0.0.1:1/v1", "decision_reasoning": "checklist"}, "checklist"),
    ({"llm_provider": "fake"}, "none"),
    ({"llm_base_url": "https://api.openai.com/v1", "decision_reasoning": "brief"}, "brief"),
    ({"llm_base_url": "http://127.0.0.1:1/v1", "decision_reasoning": "NONE"}, "none"),
])
def test_reasoning_depth_defaults_per_provider(kw, expected):
    assert decision_reasoning(_settings(**kw)) == expected


def test_unknown_reasoning_depth_is_refused():
    with pytest.raises(RuntimeError, match="TERTULIA_DECISION_REASONING"):
        decision_reasoning(_settings(decision_reasoning="deep"))
