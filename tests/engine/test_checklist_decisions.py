"""Checklist decisions (``Ports.reasoning == "checklist"``): an action state's exit conditions are checked one by one,
yes or no, in one constrained answer; none → stay, one → that exit, several → the closest to what the user said."""

from __future__ import annotations

from tertulia.engine.checklist import met_exits
from tertulia.engine.fakes import ScriptedLLM
from tests.engine.support import action, graph, ports, request, run

BOOKING = graph([
    action("greet", ["Greet the patient"], [("The patient wants to book an appointment", "collect"),
                                            ("The patient wants to cancel an appointment", "cancel"),
                                            ("The patient wants to end the conversation", "end")]),
    action("collect", ["Ask for the name", "Ask for a day"], [("The patient has given a name and a day", "confirm")]),
    action("confirm", ["Read the booking back"], [("The patient confirms", "end")]),
    action("cancel", ["Ask which appointment"], [("The patient said which one", "end")]),
    action("end", ["Say goodbye"]),
], initial="greet", terminal="end")


def answer(yes: list[str], action: str | None = None):
    def script(request, schema):
        out = {key: "yes" if key in yes else "no" for key in schema["properties"] if key != "action"}
        if "action" in schema["properties"]:
            out["action"] = action or schema["properties"]["action"]["enum"][0]
        return out
    return script


def checklist(llm: ScriptedLLM):
    return ports(llm, reasoning="checklist")


async def test_each_exit_is_checked_on_its_own_in_one_call():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", answer(["The patient wants to book an appointment"]))
    llm.script_decision("SelectNextAction", answer([], "Ask for a day"))
    res = await run(request(BOOKING, "I'd like to see Dr. Patel next week", state="greet"), checklist(llm))
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for a day"
    name, schema = llm.schemas[0]
    assert name == "select_next_action"
    assert sorted(schema["properties"]) == sorted(["The patient wants to book an appointment",  # no action field:
                                                   "The patient wants to cancel an appointment",  # greet has one
                                                   "The patient wants to end the conversation"])
    assert all(p["enum"] == ["no", "yes"] for p in schema["properties"].values())
    assert list(llm.schemas[1][1]["properties"]) == ["The patient has given a name and a day", "action"]
    prompt = llm.requests[0].messages[-1].content
    assert prompt.index("## Conversation so far") < prompt.index("## What the user just said\nI'd like to see Dr. Patel")
    assert prompt.index("## What the user just said") < prompt.index("## Exit conditions to check")
    assert llm.calls["SelectNextAction"] == 2 and llm.calls["EngageUser"] == 1


async def test_no_exit_met_stays_and_performs_the_chosen_action():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", answer([], "Ask for the name"))
    res = await run(request(BOOKING, "Hmm, let me think", state="collect"), checklist(llm))
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for the name"
    assert res.insights["state_transition_logs"] == []


async def test_several_exits_met_take_the_one_closest_to_what_the_user_said():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", answer(["The patient wants to book an appointment",
                                                    "The patient wants to cancel an appointment"]))
    res = await run(request(BOOKING, "Please cancel my appointment", state="greet"), checklist(llm))
    assert res.insights["current_state_name"] == "cancel"  # the hashing embedder: "cancel" and "appointment" shared


async def test_a_plain_action_state_turn_still_costs_two_llm_calls():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", answer([], "Ask for a day"))
    res = await run(request(BOOKING, "Not sure yet", state="collect"), checklist(llm))
    assert res.outcome.llm_calls == 2


async def test_an_answer_in_another_style_still_resolves():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"exit_condition_met": "The patient wants to cancel an appointment"})
    res = await run(request(BOOKING, "Cancel it", state="greet"), checklist(llm))
    assert res.insights["current_state_name"] == "cancel"


def test_reading_the_checks():
    keys = ["The patient confirms", "The patient wants a change"]
    assert met_exits({"The patient confirms": "no", "the patient wants a change.": "YES"}, keys) == [1]
    assert met_exits({"The patient confirms": "no", "The patient wants a change": "no"}, keys) == []
    assert met_exits({"next": "exit 1"}, keys) is None
