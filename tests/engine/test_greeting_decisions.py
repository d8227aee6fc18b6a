"""A bare greeting under the ``contrast`` depth (``engine/greeting.py``): it is offered no exit, and in a state with
one action it makes no decision call at all; an exit that speaks of greeting, or a greeting that carries anything
else, still goes to the model."""

from __future__ import annotations

import pytest

from tertulia.engine.contrast import DID_KEY, GREETING, OTHER
from tertulia.engine.fakes import ScriptedLLM
from tertulia.engine.greeting import is_bare_greeting
from tests.engine.support import action, graph, ports, request, run
from tests.engine.test_contrast_decisions import BOOKING, contrast, did


@pytest.mark.parametrize("text", ["Hello", "Hello?", "Hi", "hi there!", "Hey", "Good morning, Amigo",
                                  "Hola, buenos días", "Bonjour", "Hello hello",
                                  "Good evening!", "Buenas tardes"])
def test_salutations_alone_are_bare_greetings(text):
    assert is_bare_greeting(text, "Amigo")


@pytest.mark.parametrize("text", ["Hello, this is an emergency", "Hi, I'm Daniel Okafor.", "Good.", "Hi 911",
                                  "Hi, I'd like to book an appointment", "", "Hey, cancel it", "Morning pills?"
                                  " I take them at 8", "Hi Maria", "Evening.",
                                  "Morning works best", "Good.", "Afternoon, if possible"])
def test_anything_else_is_a_real_message(text):
    assert not is_bare_greeting(text, "Amigo")


async def test_a_greeting_in_a_state_with_one_action_makes_no_decision_call():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", did("The patient wants to book an appointment"))  # never asked
    res = await run(request(BOOKING, "Hello?", state="greet"), contrast(llm))
    assert res.insights["current_state_name"] == "greet"
    assert res.insights["current_state_action"] == "Greet the patient"
    assert res.insights["state_transition_logs"] == []
    assert llm.calls["SelectNextAction"] == 0 and llm.calls["EngageUser"] == 1


async def test_a_greeting_with_several_actions_is_asked_only_for_the_action():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", did("The patient has given a name and a day", "Ask for a day"))
    res = await run(request(BOOKING, "Hi there!", state="collect"), contrast(llm))
    assert llm.schemas[0][1]["properties"][DID_KEY]["enum"] == [OTHER, GREETING]  # no exit offered
    assert res.insights["current_state_name"] == "collect"  # an exit it was not offered is not taken
    assert res.insights["current_state_action"] == "Ask for a day"


async def test_an_exit_about_greeting_keeps_the_models_pick():
    welcome = graph([
        action("wait", ["Wait for the caller"], [("The caller says hello", "talk"), ("The caller hangs up", "end")]),
        action("talk", ["Ask how to help"]),
        action("end", ["Say goodbye"]),
    ], initial="wait", terminal="end")
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", did("The caller says hello"))
    res = await run(request(welcome, "Hello", state="wait"), contrast(llm))
    assert res.insights["current_state_name"] == "talk"
    assert llm.calls["SelectNextAction"] >= 1


async def test_other_depths_still_ask_the_model():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    res = await run(request(BOOKING, "Hello", state="greet"), ports(llm, reasoning="none"))
    assert res.insights["current_state_name"] == "collect"
