"""A decision state's pick under ``contrast``: named at once, asked in both exit orders with token log-probabilities
(``engine/debias.py``, ``engine/decision_pick.py``), and the OpenAI-compatible adapter asking and reading them."""

from __future__ import annotations

import math
import re

import pytest

from tertulia.engine.adapters.openai_compat import OpenAICompatLLM
from tertulia.engine.debias import BELOW_LISTED, option_logprobs, pick_in_both_orders
from tertulia.engine.fakes import ScriptedLLM
from tertulia.engine.ports import ChatMessage, LLMRequest
from tests.engine.openai_stub import StubServer
from tests.engine.support import action, graph, ports, request, run

URGENT = "The symptoms could be life-threatening."
MILD = "The symptoms are not urgent and can wait."


def tokens_of(text: str, alternatives: dict[str, list[tuple[str, float]]] | None = None,
              own: float = 0.0) -> list[tuple[bytes, float, list[tuple[bytes, float]]]]:
    """``text`` cut into words and spaces+words (as the port's UTF-8 bytes), each certain unless ``alternatives``
    names it."""
    out = []
    for token in re.findall(r"\s*\S+", text):
        alts = [(a.encode(), lp) for a, lp in (alternatives or {}).get(token) or []]
        out.append((token.encode(), alts[0][1] if alts else own, alts or [(token.encode(), own)]))
    return out


def test_the_options_part_ways_at_one_token_and_each_gets_the_mass_there():
    tokens = tokens_of('{"exit_condition": "The symptoms could be life-threatening."}',
                       {" could": [(" could", math.log(0.7)), (" are", math.log(0.25)), (" may", math.log(0.05))]})
    scores = option_logprobs(tokens, "exit_condition", [URGENT, MILD])
    assert scores == pytest.approx([math.log(0.7), math.log(0.25)])


def test_an_option_missing_from_the_alternatives_gets_a_floor_below_the_least_listed():
    tokens = tokens_of('{"exit_condition": "The symptoms could be life-threatening."}',
                       {" could": [(" could", -0.1), (" may", -3.0)]})
    scores = option_logprobs(tokens, "exit_condition", [URGENT, MILD])
    assert scores == pytest.approx([-0.1, -3.0 - BELOW_LISTED])


def test_three_options_two_sharing_a_prefix():
    options = ["The caller is calm.", "The caller is bleeding.", "The caller is bleeding heavily."]
    tokens = [(b'{"pick":', 0.0, []), (b' "The', 0.0, []), (b" caller", 0.0, []), (b" is", 0.0, []),
              (b" bleeding", -0.2, [(b" bleeding", -0.2), (b" calm", -1.7)]),
              (b" heavily", -0.4, [(b" heavily", -0.4), (b'."}', -1.1)]), (b'."}', 0.0, [])]
    assert option_logprobs(tokens, "pick", options) == pytest.approx([-1.7, -0.2 - 1.1, -0.2 - 0.4])


def test_a_token_that_ends_inside_a_character_is_followed_by_its_bytes():
    options = ["El paciente está grave.", "El paciente está bien."]
    text = '{"salida": "El paciente está grave."}'.encode()
    cut = text.index("á".encode()) + 1  # the model's token ends after the first byte of "á"
    split = text.index(b" grave")
    tokens = [(text[:cut], 0.0, []), (text[cut:split], 0.0, []),
              (b" grave", -0.3, [(b" grave", -0.3), (b" bien", -1.5)]), (text[split + 6:], 0.0, [])]
    assert option_logprobs(tokens, "salida", options) == pytest.approx([-0.3, -1.5])


def test_the_adapter_reads_token_bytes_when_the_provider_gives_them():
    from tertulia.engine.adapters.openai_compat import token_logprobs

    first = list("á".encode())
    payload = {"content": [{"token": "\ufffd", "bytes": first[:1], "logprob": -0.1,
                            "top_logprobs": [{"token": "\ufffd", "bytes": first[:1], "logprob": -0.1}]},
                           {"token": "x", "logprob": -0.2, "top_logprobs": []}]}
    assert token_logprobs(payload) == [(bytes(first[:1]), -0.1, [(bytes(first[:1]), -0.1)]), (b"x", -0.2, [])]
    assert token_logprobs({"content": [{"logprob": -0.1}]}) is None


@pytest.mark.parametrize("text", ['{"other": "The symptoms could be life-threatening."}',
                                  '{"exit_condition": "Something the schema never offered."}'])
def test_a_value_that_cannot_be_followed_gives_no_scores(text):
    assert option_logprobs(tokens_of(text), "exit_condition", [URGENT, MILD]) is None


async def test_the_mean_over_both_orders_overrules_a_pick_made_by_position():
    asked = []

    async def ask(listing):  # a model that takes whatever is listed first, but leans toward MILD (index 1)
        asked.append(listing)
        lean = {0: -1.0, 1: -0.2}
        first_bonus = {listing[0]: 1.0}
        scores = [lean[j] + first_bonus.get(j, 0.0) - 1.0 for j in listing]
        return listing[0], scores

    assert await pick_in_both_orders(ask, [0, 1]) == 1
    assert asked == [[0, 1], [1, 0]]


async def test_without_log_probabilities_the_first_orders_pick_stands():
    async def ask(listing):
        return listing[0], None

    assert await pick_in_both_orders(ask, [1, 0]) == 1


TRIAGE = graph([
    action("start", ["Greet"], [("The user describes symptoms", "triage")]),
    {"type": "decision", "name": "triage", "objective": "Decide how urgent the symptoms are.",
     "decision_guidelines": [], "exit_conditions": [{"description": URGENT, "next_state": "emergency"},
                                                    {"description": MILD, "next_state": "book"}],
     "tool_call_specs": [], "audio_fillers": [], "audio_filler_triggered_after": 5},
    action("book", ["Offer a slot"], [("done", "end")]),
    action("emergency", ["Call 911"], [("done", "end")]),
    action("end", ["Bye"]),
], initial="start", terminal="end")


def position_biased(request: LLMRequest, schema: dict) -> dict:
    """Names the exit listed first, with log-probabilities that lean toward MILD once position is averaged out."""
    listed = schema["properties"]["exit_condition"]["enum"]
    text = '{"exit_condition": "%s"}' % listed[0]
    lean = {URGENT: -2.0, MILD: -1.5}
    word = {URGENT: " could", MILD: " are"}
    alts = sorted(((word[o], lean[o] + (1.0 if o == listed[0] else 0.0)) for o in listed), key=lambda a: -a[1])
    tokens = tokens_of(text, {word[listed[0]]: alts})
    request.response.logprobs = tokens if request.top_logprobs else None
    return {"exit_condition": listed[0]}


@pytest.mark.parametrize(("orders", "calls"), [(2, 2), (1, 1)])
async def test_a_decision_state_under_contrast_names_its_exit_at_once_in_both_orders(orders, calls):
    llm = ScriptedLLM()
    llm.script_decision("SelectNextAction", {"what_the_user_did": "The user describes symptoms"})
    for _ in range(calls):
        llm.script_decision("SelectNextActionForDecisionState", position_biased)
    # the seeded order of this message lists URGENT first: by position alone the pick is the emergency
    res = await run(request(TRIAGE, "I have a slight cough.", state="start"),
                    ports(llm, reasoning="contrast", decision_orders=orders))
    asked = [r for r in llm.requests if r.interaction == "SelectNextActionForDecisionState"]
    schemas = [s for n, s in llm.schemas if n == "select_next_state_for_decision_state"]
    assert len(asked) == calls and all(list(s["properties"]) == ["exit_condition"] for s in schemas)
    assert [r.top_logprobs > 0 for r in asked] == [orders == 2] * calls
    if orders == 2:
        first, second = (s["properties"]["exit_condition"]["enum"] for s in schemas)
        assert second == first[::-1]
        assert res.insights["current_state_name"] == "book"  # the lean, not the position
    else:  # one request: the exit listed first in the seeded order
        assert schemas[0]["properties"]["exit_condition"]["enum"][0] == URGENT
        assert res.insights["current_state_name"] == "emergency"


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


SCHEMA = {"type": "object", "properties": {"exit_condition": {"type": "string", "enum": [URGENT, MILD]}},
          "required": ["exit_condition"], "additionalProperties": False}


async def test_the_adapter_asks_and_reads_log_probabilities_and_stops_asking_a_provider_that_refuses(stub):
    llm = OpenAICompatLLM(stub.base_url, "sk-not-used", "stub-model")
    try:
        plain = LLMRequest("Pick", [ChatMessage("user", "Which?")])
        await llm.decide(plain, SCHEMA, "pick")
        assert "logprobs" not in stub.state.requests[-1] and plain.response.logprobs is None

        asked = LLMRequest("Pick", [ChatMessage("user", "Which?")], top_logprobs=5)
        answer = await llm.decide(asked, SCHEMA, "pick")
        sent = stub.state.requests[-1]
        assert sent["logprobs"] is True and sent["top_logprobs"] == 5
        tokens = asked.response.logprobs
        assert b"".join(t for t, _, _ in tokens).decode() == asked.response.raw_text
        assert option_logprobs(tokens, "exit_condition", [URGENT, MILD]) is not None
        assert answer == {"exit_condition": URGENT}

        stub.state.reject_logprobs = True
        refused = LLMRequest("Pick", [ChatMessage("user", "Which?")], top_logprobs=5)
        assert await llm.decide(refused, SCHEMA, "pick") == {"exit_condition": URGENT}
        assert refused.response.logprobs is None and "logprobs" not in stub.state.requests[-1]
        count = len(stub.state.requests)
        await llm.decide(LLMRequest("Pick", [ChatMessage("user", "Which?")], top_logprobs=5), SCHEMA, "pick")
        assert len(stub.state.requests) == count + 1  # not asked again: one request, without logprobs
        assert "logprobs" not in stub.state.requests[-1]
    finally:
        await llm.aclose()


@pytest.mark.parametrize(("kw", "expected"), [
    ({"llm_provider": "openai", "llm_base_url": "http://127.0.0.1:8080/v1"}, 2),
    ({"llm_provider": "auto", "llm_base_url": "https://api.example.com/v1"}, 2),
    ({"llm_provider": "local", "llm_base_url": None}, 1),
    ({"llm_provider": "fake", "llm_base_url": None}, 1),
    ({"llm_provider": "openai", "llm_base_url": "http://127.0.0.1:8080/v1", "decision_orders": 1}, 1),
])
def test_decision_orders_auto_asks_both_orders_of_a_server_and_one_of_the_embedded_model(kw, expected):
    from types import SimpleNamespace

    from tertulia.engine.wiring import decision_orders

    assert decision_orders(SimpleNamespace(**({"decision_orders": 0} | kw))) == expected
