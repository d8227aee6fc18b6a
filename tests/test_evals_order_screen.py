"""``evals/order_screen.py`` re-asks a cached contrast pick in both orders and checks an exit the way the engine does.
The prompts here come from the engine's own builders, so a layout the screen can no longer reorder, or a check prompt
that drifts from ``exit_check.exit_holds``'s, fails. The LLM is a scripted function at the screen's one HTTP call."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from evals import order_screen
from evals.run import load_graphs
from tertulia.engine.closeness import Ranking
from tertulia.engine.contract import TranscriptMessage
from tertulia.engine.contrast import DID_KEY, OTHER, contrast_tail
from tertulia.engine.exit_check import CHECK_HEAD, check_tail
from tertulia.engine.prompts import framed_decision_messages

SAID = "No, that's everything, cheers."
EXIT = "The visitor needs nothing more."
T0 = datetime(2026, 1, 1, tzinfo=UTC)
TALK = [TranscriptMessage("1", "agent-message", "Anything else?", T0, "i1"),
        TranscriptMessage("2", "user-message", SAID, T0, "i2")]
AGENT = {"name": "Desk"}


def _pick_request() -> dict:
    tail, schema, _ = contrast_tail([f"## What the user just said\n{SAID}", ""], [EXIT], Ranking([0], [0.3], None),
                                    [])
    messages = framed_decision_messages(AGENT, ["Deciding."], TALK, tail)
    return {"model": "m", "temperature": 0.0, "messages": [{"role": m.role, "content": m.content} for m in messages],
            "response_format": {"type": "json_schema", "json_schema": {"name": "select_next_action",
                                                                       "schema": schema, "strict": True}}}


def _answer(listing: list[str], scores: dict[str, float]) -> dict:
    """A response naming the option with the best score, with the first token of each option as alternatives."""
    best = max(listing, key=lambda c: scores[c])
    prefix = f'{{"{DID_KEY}": "'
    tops = [{"token": c[:8], "logprob": scores[c]} for c in listing]
    content = [{"token": prefix, "logprob": 0.0, "top_logprobs": []},
               {"token": best[:8], "logprob": scores[best], "top_logprobs": tops},
               {"token": best[8:] + '"}', "logprob": 0.0, "top_logprobs": []}]
    return {"choices": [{"message": {"content": json.dumps({DID_KEY: best})}, "logprobs": {"content": content}}]}


def test_reordered_lists_the_choices_in_the_new_order_and_asks_log_probabilities() -> None:
    request = _pick_request()
    body = order_screen.reordered(request, [EXIT, OTHER])
    content = body["messages"][-1]["content"]
    assert content.index(f"- {EXIT}\n") < content.index(f"- {OTHER}\n")
    assert body["response_format"]["json_schema"]["schema"]["properties"][DID_KEY]["enum"] == [EXIT, OTHER]
    assert body["logprobs"] is True and body["top_logprobs"] > 0
    assert request["messages"][-1]["content"].index(f"- {OTHER}\n") < request["messages"][-1]["content"].index(EXIT)


def test_both_orders_takes_the_option_preferred_across_listings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Position bias: the first listed option gains 1.5 nats; the exit is preferred by 0.4 on its own."""
    def post(llm: str, body: dict) -> dict:
        listing = body["response_format"]["json_schema"]["schema"]["properties"][DID_KEY]["enum"]
        own = {OTHER: -1.0, EXIT: -0.6}
        return _answer(listing, {c: own[c] + (1.5 if i == 0 else 0.0) for i, c in enumerate(listing)})

    monkeypatch.setattr(order_screen, "_post", post)
    picked, totals = order_screen.both_orders("http://llm/v1", _pick_request(), [OTHER, EXIT])
    assert picked == EXIT
    assert totals is not None and totals[1] - totals[0] == pytest.approx(0.8)


def test_the_check_is_asked_as_the_engine_asks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict] = []

    def post(llm: str, body: dict) -> dict:
        seen.append(body)
        tops = [{"token": "yes", "logprob": math.log(0.8)}, {"token": "no", "logprob": math.log(0.2)}]
        return {"choices": [{"message": {"content": '{"answer": "yes"}'}, "logprobs": {"content": [
            {"token": '{"answer": "', "logprob": 0.0, "top_logprobs": []},
            {"token": "yes", "logprob": math.log(0.8), "top_logprobs": tops},
            {"token": '"}', "logprob": 0.0, "top_logprobs": []}]}}]}

    monkeypatch.setattr(order_screen, "_post", post)
    request = _pick_request()
    parts = order_screen.check("http://llm/v1", request, request["messages"][-1]["content"], EXIT)
    assert parts == [pytest.approx(0.8)]
    engine = framed_decision_messages(AGENT, [CHECK_HEAD], TALK, check_tail(SAID, EXIT))
    assert seen[0]["messages"][-1]["content"] == engine[-1].content
    assert seen[0]["response_format"]["json_schema"]["name"] == "check_exit"


def test_target_reads_the_exit_next_state_from_the_graph() -> None:
    graphs = load_graphs()
    assert order_screen.target(graphs, "heldout_gym", "wrap_up", EXIT) == "goodbye"
    assert order_screen.target(graphs, "heldout_gym", "wrap_up", "not an exit") is None
