"""The exit check under ``contrast`` (``engine/exit_check.py``): a picked exit of an action state is asked about on
its own, yes/no with token log-probabilities, and dropped only when the model is confident it does not hold."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from tertulia.engine.exit_check import KEY, NO, QUESTION_YES, SCHEMA, VETO_NO, YES, asks_only, parts_of, veto_line, vetoed
from tertulia.engine.fakes import ScriptedLLM
from tertulia.engine.ports import LLMRequest
from tests.engine.support import action, graph, ports, request, run
from tests.engine.test_decision_orders import tokens_of

FIXED = "The customer says the problem is fixed."
ACTIONS = ["Ask for the device and app version.", "Suggest restarting the app."]
DESK = graph([
    action("technical", ACTIONS, [(FIXED, "done")]),
    action("done", ["Say goodbye."]),
], initial="technical", terminal="done")


def answered(p_no: float | None):  # noqa: ANN201
    """A check that answers by the larger probability, with log-probabilities giving P(no) = ``p_no`` (none: a
    provider without log-probabilities)."""
    def answer(req: LLMRequest, schema: dict) -> dict:
        assert schema == SCHEMA and req.top_logprobs > 0
        if p_no is None:
            return {KEY: YES}
        word = NO if p_no > 0.5 else YES
        alts = sorted([(f' "{YES}"}}', math.log(1 - p_no)), (f' "{NO}"}}', math.log(p_no))], key=lambda a: -a[1])
        req.response.logprobs = tokens_of(f'{{"{KEY}": "{word}"}}', {f' "{word}"}}': alts})
        return {KEY: word}
    return answer


def picked_exit(req: LLMRequest, schema: dict) -> dict:
    return {"what_the_user_did": FIXED, "action": ACTIONS[1]}


@pytest.mark.parametrize(("p_no", "state"), [(0.9, "technical"), (0.7, "technical"), (0.62, "done"), (0.1, "done"),
                                             (None, "done")])
async def test_a_picked_exit_is_dropped_only_when_the_check_is_confident_it_does_not_hold(p_no, state):
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", picked_exit)
    llm.script_decision("SelectNextAction", answered(p_no))
    res = await run(request(DESK, "An iPhone 14 with version 3.2.1.", state="technical"),
                    ports(llm, reasoning="contrast", exit_checks=True))
    asked = [r for r in llm.requests if r.interaction == "SelectNextAction"]
    assert len(asked) == 2
    check = asked[1].messages[-1].content
    assert "## Statement\n" + FIXED in check and "An iPhone 14 with version 3.2.1." in check
    assert "true of what the user just said?" in check
    assert res.insights["current_state_name"] == state
    if state == "technical":  # stayed: the action the pick named
        assert res.insights["current_state_action"] == ACTIONS[1]


async def test_a_stay_asks_no_check_and_checks_off_ask_none():
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"what_the_user_did": "The user has done none of these: they ask a "
                                             "question, hesitate, refuse, or say something else.",
                                             "action": ACTIONS[0]})
    res = await run(request(DESK, "Why do you need that?", state="technical"),
                    ports(llm, reasoning="contrast", exit_checks=True))
    assert res.insights["current_state_name"] == "technical"
    assert [n for n, _ in llm.schemas].count("check_exit") == 0
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", picked_exit)
    res = await run(request(DESK, "It works again, thanks!", state="technical"),
                    ports(llm, reasoning="contrast", exit_checks=False))
    assert res.insights["current_state_name"] == "done"
    assert [n for n, _ in llm.schemas].count("check_exit") == 0


def test_the_veto_needs_confidence():
    assert vetoed([0.3]) and not vetoed([0.38])  # P(no) 0.70 drops the exit, 0.62 keeps it
    assert vetoed([0.8, 0.4])  # a conjunction: P = 0.32
    assert not vetoed([0.9, 0.6])  # P = 0.54
    assert not vetoed([0.1, None]) and not vetoed([])  # a part without log-probabilities: the pick stands


def test_a_conjunction_is_cut_into_its_parts():
    assert parts_of("The patient has given both their name and a preferred day or time.") == [
        "The patient has given their name.", "The patient has given a preferred day or time."]
    assert parts_of(FIXED) == [FIXED]
    assert parts_of("The caller wants both refills and a delivery!") == ["The caller wants refills!",
                                                                        "The caller wants a delivery!"]


BOTH = "The patient has given both their name and a preferred day or time."
BOOKING = graph([
    action("collect", ["Ask for the name.", "Ask for a day."], [(BOTH, "confirm")]),
    action("confirm", ["Read the booking back."]),
], initial="collect", terminal="confirm")


@pytest.mark.parametrize(("p_name", "p_day", "state"), [(0.8, 0.4, "collect"), (0.9, 0.7, "confirm")])
async def test_a_conjunction_is_checked_part_by_part_against_the_conversation(p_name, p_day, state):
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", lambda req, schema: {"what_the_user_did": BOTH, "action": "Ask for a day."})
    llm.script_decision("SelectNextAction", answered(1 - p_name))
    llm.script_decision("SelectNextAction", answered(1 - p_day))
    res = await run(request(BOOKING, "My name is Maria Lopez.", state="collect"),
                    ports(llm, reasoning="contrast", exit_checks=True))
    checks = [r.messages[-1].content for r in llm.requests if r.interaction == "SelectNextAction"][1:]
    assert len(checks) == 2
    assert "## Statement\nThe patient has given their name.\n" in checks[0]
    assert "## Statement\nThe patient has given a preferred day or time.\n" in checks[1]
    assert all("true of the conversation so far?" in c for c in checks)
    assert res.insights["current_state_name"] == state


@pytest.mark.parametrize(("kw", "expected"), [
    ({"llm_provider": "openai", "llm_base_url": "http://127.0.0.1:8080/v1"}, True),
    ({"llm_provider": "local", "llm_base_url": None}, False),
    ({"llm_provider": "fake", "llm_base_url": None}, False),
    ({"llm_provider": "openai", "llm_base_url": "http://127.0.0.1:8080/v1", "exit_checks": "off"}, False),
    ({"llm_provider": "local", "llm_base_url": None, "exit_checks": "on"}, True),
])
def test_exit_checks_auto_is_on_for_a_server(kw, expected):
    from tertulia.engine.wiring import exit_checks

    assert exit_checks(SimpleNamespace(**({"exit_checks": "auto"} | kw))) is expected


def test_an_unknown_exit_checks_setting_says_what_it_accepts():
    from tertulia.engine.wiring import exit_checks

    with pytest.raises(RuntimeError, match="auto | on | off"):
        exit_checks(SimpleNamespace(exit_checks="maybe", llm_provider="openai", llm_base_url="http://x"))


GIVEN_ID = "The employee has given their employee ID."
WANTS_RESET = "The employee wants a password reset."
HELPDESK = graph([
    action("identity", ["Ask for the employee ID.", "Explain where the ID is printed."], [(GIVEN_ID, "reset")]),
    action("start", ["Ask what the problem is."], [(WANTS_RESET, "identity")]),
    action("reset", ["Say the link was sent."]),
], initial="start", terminal="reset")


def test_a_question_without_a_figure_only_asks():
    assert asks_only("Where do I find that?") and asks_only("  Which one do you mean？ ")
    assert not asks_only("Can you check order 99001?")  # a figure: it may give what the exit asks for
    assert not asks_only("It's E-20417.") and not asks_only("")
    assert veto_line("Where do I find that?", GIVEN_ID) == pytest.approx(1 - QUESTION_YES)
    assert veto_line("Where do I find that?", "The member has chosen a plan.") == pytest.approx(1 - QUESTION_YES)
    assert veto_line("Is that right?", "The patient confirms the booking.") == pytest.approx(1 - QUESTION_YES)
    assert veto_line("Can I reset my password?", WANTS_RESET) == VETO_NO  # a question can ask for the exit
    assert veto_line("It's E-20417.", GIVEN_ID) == VETO_NO
    assert veto_line("Is my ID E-20417?", GIVEN_ID) == VETO_NO
    assert veto_line("Where is it?", "The customer wants to track an order but has not given the number.") == VETO_NO


@pytest.mark.parametrize(("said", "state", "exit_text", "p_no", "after"), [
    ("Where do I find that?", "identity", GIVEN_ID, 0.4, "identity"),  # P(yes) 0.6 < 0.75: a question gives nothing
    ("Where do I find that?", "identity", GIVEN_ID, 0.2, "reset"),  # sure: kept
    ("It's E-20417, I think.", "identity", GIVEN_ID, 0.4, "reset"),  # an answer: the ordinary line
    ("Can I get my password reset?", "start", WANTS_RESET, 0.4, "identity"),  # a question that asks for the exit
])
async def test_a_question_keeps_a_given_exit_only_when_the_check_is_sure(said, state, exit_text, p_no, after):
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", lambda req, schema: {
        "what_the_user_did": exit_text, **({"action": schema["properties"]["action"]["enum"][-1]}
                                           if "action" in schema["properties"] else {})})
    llm.script_decision("SelectNextAction", answered(p_no))
    llm.script_decision("SelectNextAction", lambda req, schema: {
        "what_the_user_did": schema["properties"]["what_the_user_did"]["enum"][0],
        **({"action": schema["properties"]["action"]["enum"][0]} if "action" in schema["properties"] else {})})
    res = await run(request(HELPDESK, said, state=state), ports(llm, reasoning="contrast", exit_checks=True))
    assert [n for n, _ in llm.schemas].count("check_exit") == 1
    assert res.insights["current_state_name"] == after
    if after == state == "identity":  # stayed: the action the pick named
        assert res.insights["current_state_action"] == "Explain where the ID is printed."
