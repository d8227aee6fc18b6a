"""The exit check under ``contrast`` (``engine/exit_check.py``): a picked exit of an action state is asked about on
its own, yes/no with token log-probabilities, and dropped only when the model is confident it does not hold."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from tertulia.engine.exit_check import KEY, NO, SCHEMA, YES, parts_of, vetoed
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
