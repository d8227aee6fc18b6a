"""Per-exit checks (``Ports.reasoning == "checks"``): each exit condition is judged in its own small request, all at
once; the "yes" closest to what the user said wins, none → stay; a second transition in one turn needs an exit
clearly closer to the message than the one that led in; a decision state always leaves."""

from __future__ import annotations

import re

from tertulia.engine.closeness import Ranking
from tertulia.engine.fakes import ScriptedLLM
from tests.engine.support import action, graph, ports, request, run

BOOKING = graph([
    action("greet", ["Greet the patient"], [("The patient wants to book an appointment", "collect"),
                                            ("The patient wants to cancel an appointment", "cancel"),
                                            ("The patient wants to end the conversation", "end")]),
    action("collect", ["Ask for the name", "Ask for a day"], [("The patient has given a name and a day", "confirm"),
                                                              ("The patient no longer wants one", "end")]),
    action("confirm", ["Read the booking back"], [("The patient confirms", "end")]),
    action("cancel", ["Ask which appointment"], [("The patient said which one", "end")]),
    action("end", ["Say goodbye"]),
], initial="greet", terminal="end")

CONDITION = re.compile(r"## The condition to check\n(.+)\n")


class CountingLLM(ScriptedLLM):
    """Scripted, and records how many decisions were in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.005
        self.in_flight = self.peak = 0

    async def decide(self, request, schema, schema_name):  # noqa: ANN001
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await super().decide(request, schema, schema_name)
        finally:
            self.in_flight -= 1


def condition_of(request) -> str:
    found = CONDITION.search(request.messages[-1].content)
    assert found, request.messages[-1].content
    return found.group(1)


def judge(llm: ScriptedLLM, yes: set[str], action: str | None = None) -> list[str]:
    """Answer every check: "yes" for the conditions in ``yes``; returns the conditions asked, in order."""
    asked: list[str] = []

    def check(req, schema):  # noqa: ANN001
        asked.append(condition_of(req))
        return {"met": "yes" if asked[-1] in yes else "no"}

    llm.decision_defaults["check_exit_condition"] = check
    llm.decision_defaults["check_decision_exit"] = check
    if action is not None:
        llm.decision_defaults["select_action"] = lambda req, schema: {"action": action}
    return asked


def checks(llm: ScriptedLLM):
    return ports(llm, reasoning="checks")


async def test_every_exit_is_checked_in_its_own_request_all_at_once():
    llm = CountingLLM()
    asked = judge(llm, {"The patient wants to book an appointment"}, action="Ask for a day")
    res = await run(request(BOOKING, "I'd like to book an appointment for next week", state="greet"), checks(llm))
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for a day"
    greet_checks = asked[:3]
    assert sorted(greet_checks) == sorted(["The patient wants to book an appointment",
                                           "The patient wants to cancel an appointment",
                                           "The patient wants to end the conversation"])
    assert greet_checks[0] == "The patient wants to book an appointment"  # closest to the message is asked first
    assert llm.peak >= 3  # the checks of one state run concurrently: one decision step
    names = [name for name, _ in llm.schemas]
    assert names.count("check_exit_condition") == 5 and names.count("select_action") == 1
    one = next(r for r in llm.requests if r.interaction == "SelectNextAction").messages[-1].content
    assert one.count("The patient wants to") == 1  # one condition per request
    assert one.index("## What the user just said") < one.index("## The condition to check")


async def test_no_condition_met_stays_and_performs_the_chosen_action():
    llm = ScriptedLLM()
    judge(llm, set(), action="Ask for the name")
    res = await run(request(BOOKING, "Hmm, let me think about it", state="collect"), checks(llm))
    assert res.insights["current_state_name"] == "collect"
    assert res.insights["current_state_action"] == "Ask for the name"


async def test_of_several_met_conditions_the_closest_to_the_message_wins():
    llm = ScriptedLLM()
    judge(llm, {"The patient wants to book an appointment", "The patient wants to cancel an appointment"})
    res = await run(request(BOOKING, "Please cancel my appointment", state="greet"), checks(llm))
    assert res.insights["current_state_name"] == "cancel"


async def test_a_second_transition_needs_an_exit_clearly_closer_to_the_message():
    llm = ScriptedLLM()
    judge(llm, {"The patient wants to book an appointment", "The patient has given a name and a day"})
    res = await run(request(BOOKING, "I want to book an appointment", state="greet"), checks(llm))
    assert res.insights["current_state_name"] == "collect"  # "given a name and a day" is not what was said
    assert len(res.insights["state_transition_logs"]) == 1

    llm = ScriptedLLM()
    judge(llm, {"The patient wants to book an appointment", "The patient has given a name and a day"})
    res = await run(request(BOOKING, "Book: my name and a day, I have given a name and a day", state="greet"),
                    checks(llm))
    assert res.insights["current_state_name"] == "confirm"  # the message is about the second exit too


def test_the_second_transition_rule():
    ranking = Ranking(order=[1, 0], sims=[0.2, 0.5], entered=0.3)
    assert ranking.allows(1) and not ranking.allows(0)  # only the closest, and only clearly ahead of the entry
    assert not Ranking(order=[1, 0], sims=[0.2, 0.4], entered=0.3).allows(1)  # not clearly ahead
    assert not Ranking(order=[1, 0], sims=[0.0, 0.2], entered=0.0).allows(1)  # ahead, but about nothing
    assert Ranking(order=[0, 1], sims=None, entered=None).allows(1)  # no embedder: the model's word stands


async def test_a_decision_state_takes_the_met_exit_or_else_the_closest():
    g = graph([
        action("start", ["Ask"], [("The user described symptoms", "triage")]),
        {"type": "decision", "name": "triage", "objective": "Decide urgency", "decision_guidelines": [],
         "exit_conditions": [{"description": "The symptoms are mild and can wait", "next_state": "book"},
                             {"description": "The symptoms could be life-threatening chest pain", "next_state": "er"}],
         "tool_call_specs": [], "audio_fillers": [], "audio_filler_triggered_after": 5},
        action("book", ["Offer a slot"], [("done", "end")]),
        action("er", ["Call 911"], [("done", "end")]),
        action("end", ["Bye"]),
    ], initial="start", terminal="end")
    llm = ScriptedLLM()
    judge(llm, {"The user described symptoms", "The symptoms are mild and can wait"})
    res = await run(request(g, "I described symptoms: a mild rash", state="start"), checks(llm))
    assert res.insights["current_state_name"] == "book"

    llm = ScriptedLLM()
    judge(llm, {"The user described symptoms"})  # no decision exit answered yes: the closest one is taken
    res = await run(request(g, "I described symptoms: chest pain, it could be life-threatening", state="start"),
                    checks(llm))
    assert res.insights["current_state_name"] == "er"


async def test_a_plain_action_state_turn_is_two_sequential_llm_steps():
    llm = CountingLLM()
    judge(llm, set(), action="Ask for a day")
    res = await run(request(BOOKING, "Not sure yet", state="collect"), checks(llm))
    assert res.insights["current_state_name"] == "collect"
    # one decision step (2 checks + the action pick, concurrently), then the reply
    assert llm.calls["SelectNextAction"] == 3 and llm.peak == 3 and llm.calls["EngageUser"] == 1


async def test_one_failing_check_fails_the_decision_and_cancels_the_others():
    import pytest

    from tertulia.engine.contract import EngineError

    llm = CountingLLM()
    llm.slow("SelectNextAction", 0.5)  # the other checks are still in flight when the first one fails
    llm.fail("SelectNextAction", RuntimeError("provider exploded"))
    with pytest.raises(EngineError) as info:
        await run(request(BOOKING, "I'd like to book an appointment", state="greet"), checks(llm))
    assert "provider exploded" in info.value.description
    assert llm.in_flight == 0  # nothing left running after the turn failed


async def test_the_message_is_embedded_once_per_turn_however_many_decisions_rank_exits():
    from tertulia.engine.fakes import FakeEmbedder

    embedder = FakeEmbedder()
    llm = ScriptedLLM()
    judge(llm, {"The patient wants to book an appointment"}, action="Ask for a day")
    res = await run(request(BOOKING, "Please book an appointment on a new day for me", state="greet"),
                    ports(llm, reasoning="checks", embedder=embedder))
    assert res.insights["current_state_name"] == "collect"  # two decisions ranked exits: greet's, then collect's
    # the message once, greet's 3 exits, collect's 2 (the exit that led in is greet's, already embedded)
    assert embedder.texts_embedded == 1 + 3 + 2
