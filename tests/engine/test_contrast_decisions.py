"""Contrast decisions (``Ports.reasoning == "contrast"``): one constrained pick that describes what the user just said,
among the exit conditions (closest first) and a concrete alternative (a question, a hesitation, a refusal, something
else); that alternative, or no pick, stays and performs the chosen action. Behaviors are judged per candidate
(tests/engine/test_behavior_contrast.py)."""

from __future__ import annotations

from tertulia.engine.contract import BehaviorVersion
from tertulia.engine.contrast import DID_KEY, GREETING, OTHER
from tertulia.engine.fakes import ScriptedLLM
from tests.engine.support import action, graph, ports, request, run, simple_graph

BOOKING = graph([
    action("greet", ["Greet the patient"], [("The patient wants to book an appointment", "collect"),
                                            ("The patient wants to cancel an appointment", "cancel"),
                                            ("The patient wants to end the conversation", "end")]),
    action("collect", ["Ask for the name", "Ask for a day"], [("The patient has given a name and a day", "confirm")]),
    action("confirm", ["Read the booking back"], [("The patient confirms", "end")]),
    action("cancel", ["Ask which appointment"], [("The patient said which one", "end")]),
    action("end", ["Say goodbye"]),
], initial="greet", terminal="end")


def contrast(llm: ScriptedLLM):
    return ports(llm, reasoning="contrast")


def did(text: str, action: str | None = None):
    def script(request, schema):
        out = {DID_KEY: text}
        if "action" in schema["properties"]:
            out["action"] = action or schema["properties"]["action"]["enum"][0]
        return out
    return script


async def test_the_pick_describes_the_users_message_among_the_exits_and_a_concrete_alternative():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", did("The patient wants to book an appointment"))
    llm.script_decision("SelectNextAction", did(OTHER, "Ask for a day"))
    res = await run(request(BOOKING, "I'd like to book an appointment with Dr. Patel", state="greet"), contrast(llm))
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for a day"
    name, schema = llm.schemas[0]
    assert name == "select_next_action"
    assert list(schema["properties"]) == [DID_KEY]  # greet has one action: no action field
    choices = schema["properties"][DID_KEY]["enum"]
    assert choices[:1] == [OTHER]  # first in the prompt and the schema (a fake answering first values stays)
    assert choices[1:] == ["The patient wants to book an appointment"]  # only the exit closest to the message
    assert list(llm.schemas[1][1]["properties"]) == [DID_KEY, "action"]
    prompt = llm.requests[0].messages[-1].content
    said = prompt.index("## What the user just said\nI'd like to book an appointment")
    assert prompt.index("## Conversation so far") < said < prompt.index("## Which of these describes what the user")
    assert prompt.index(f"- {OTHER}") < prompt.index("- The patient wants")
    assert "- The patient wants to cancel" not in prompt and "- The patient wants to end" not in prompt
    assert llm.calls["SelectNextAction"] == 2 and llm.calls["EngageUser"] == 1


async def test_the_alternative_stays_and_performs_the_chosen_action():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", did(OTHER, "Ask for the name"))
    res = await run(request(BOOKING, "Why do you need that?", state="collect"), contrast(llm))
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for the name"
    assert res.insights["state_transition_logs"] == []


async def test_an_unscripted_or_unknown_answer_stays():
    llm = ScriptedLLM()  # unscripted: each enum's first value, the alternative
    res = await run(request(BOOKING, "Hmm", state="collect"), contrast(llm))
    assert res.insights["current_state_name"] == "collect"
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {DID_KEY: "something the schema never offered", "action": "Ask for a day"})
    res = await run(request(BOOKING, "Hmm", state="collect"), contrast(llm))
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for a day"


async def test_a_plain_action_state_turn_still_costs_two_llm_calls():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", did(OTHER, "Ask for a day"))
    res = await run(request(BOOKING, "Not sure yet", state="collect"), contrast(llm))
    assert res.outcome.llm_calls == 2


async def test_an_answer_in_another_style_still_resolves():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"exit_condition_met": "The patient wants to cancel an appointment"})
    res = await run(request(BOOKING, "Cancel it", state="greet"), contrast(llm))
    assert res.insights["current_state_name"] == "cancel"


async def test_behaviors_are_judged_per_candidate_and_a_yes_no_answer_still_resolves():
    suicide = BehaviorVersion("1" * 24, 1, ["The user expresses suicidal thoughts"], [
        {"type": "inject-instruction", "instruction": "Rule 1", "overrides_instructions": False}])
    llm = ScriptedLLM()
    llm.decision_defaults["check_dynamic_behavior"] = lambda req, schema: {"applies": "yes"}
    res = await run(request(simple_graph(), "I don't want to be alive anymore", state="ask", behaviors=[suicide]),
                    contrast(llm))
    assert {n for n, _ in llm.schemas if n.startswith("check_dynamic")} == {"check_dynamic_behavior"}
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == [suicide.set_id, 1]


async def test_the_greeting_stay_is_offered_only_to_a_bare_greeting():
    llm = ScriptedLLM()  # a greeting with more in it goes to the model with the exit, and no "only says hello"
    llm.script_decision("SelectNextAction", did(OTHER, "Ask for a day"))
    res = await run(request(BOOKING, "Hello, what do you need from me?", state="collect"), contrast(llm))
    assert GREETING not in llm.schemas[0][1]["properties"][DID_KEY]["enum"]
    assert f"- {GREETING}" not in llm.requests[0].messages[-1].content
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for a day"
    assert llm.calls["SelectNextAction"] == 1 and llm.calls["EngageUser"] == 1  # a plain turn: 2 sequential calls
    llm = ScriptedLLM()  # a bare greeting, several actions: the two stays, to pick the action by
    llm.script_decision("SelectNextAction", did(GREETING, "Ask for a day"))
    res = await run(request(BOOKING, "Hello!", state="collect"), contrast(llm))
    assert llm.schemas[0][1]["properties"][DID_KEY]["enum"] == [OTHER, GREETING]
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for a day"


async def test_only_the_closest_exit_is_offered_and_no_other_is_taken():
    llm = ScriptedLLM()  # an answer naming an exit the pick did not offer (a model ignoring the schema) stays
    llm.script_decision("SelectNextAction", did("The patient wants to end the conversation"))
    res = await run(request(BOOKING, "Please cancel an appointment I have", state="greet"), contrast(llm))
    assert llm.schemas[0][1]["properties"][DID_KEY]["enum"] == [OTHER, "The patient wants to cancel an appointment"]
    assert res.insights["current_state_name"] == "greet"


async def test_without_an_embedder_every_exit_is_offered():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", did("The patient wants to end the conversation"))
    res = await run(request(BOOKING, "Please cancel an appointment I have", state="greet"),
                    ports(llm, reasoning="contrast", embedder=None))
    choices = llm.schemas[0][1]["properties"][DID_KEY]["enum"]
    assert choices[:1] == [OTHER] and sorted(choices[1:]) == sorted([
        "The patient wants to book an appointment", "The patient wants to cancel an appointment",
        "The patient wants to end the conversation"])
    assert res.insights["current_state_name"] == "end"
