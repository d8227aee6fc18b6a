"""``evals/check_screen.py`` reads a replay cache as the engine wrote its requests: the contrast picks (state, what the
user just said, the conversation, the options, the answer) and each exit check's P(yes) from the stored
log-probabilities, joined by conversation and message. Built here from the engine's own prompt builders, so a change
of the prompts' layout that the screen can no longer read fails."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

from evals.check_screen import holds_with, part_checks, read_cache
from tertulia.engine.contract import TranscriptMessage
from tertulia.engine.contrast import DID_KEY, OTHER
from tertulia.engine.exit_check import CONVERSATION, check_tail, parts_of
from tertulia.engine.prompts import framed_decision_messages

SAID = "Two people, this Friday at 7."
EXIT = "The caller has given both the number of guests and the date and time."
T0 = datetime(2026, 1, 1, tzinfo=UTC)
TALK = [TranscriptMessage("1", "agent-message", "How many guests?", T0, "i1"),
        TranscriptMessage("2", "user-message", SAID, T0, "i2")]


def _content(head: list[str], tail: list[str]) -> str:
    return framed_decision_messages({"name": "Desk"}, head, TALK, tail)[-1].content


def _entry(name: str, content: str, answer: dict, p_yes: float | None = None) -> str:
    response: dict = {"choices": [{"message": {"content": json.dumps(answer)}}]}
    if p_yes is not None:
        word = "yes" if p_yes >= 0.5 else "no"
        tops = [{"token": ' "yes"}', "logprob": math.log(p_yes)}, {"token": ' "no"}', "logprob": math.log(1 - p_yes)}]
        response["choices"][0]["logprobs"] = {"content": [
            {"token": '{"answer":', "logprob": 0.0, "top_logprobs": []},
            {"token": f' "{word}"}}', "logprob": math.log(max(p_yes, 1 - p_yes)), "top_logprobs": tops}]}
    request = {"messages": [{"role": "user", "content": content}],
               "response_format": {"json_schema": {"name": name, "schema": {"properties": {
                   DID_KEY: {"enum": [OTHER, EXIT]}}}}}}
    return json.dumps({"answer": json.dumps(answer), "request": request, "response": response})


def test_picks_and_checks_are_read_and_joined(tmp_path: Path):
    pick = _content(["## Current state: party"], [f"## What the user just said\n{SAID}", "",
                                                  "## Which of these describes what the user just said?",
                                                  f"- {OTHER}", f"- {EXIT}"])
    lines = [_entry("select_next_action", pick, {DID_KEY: OTHER})]
    for part, p in zip(parts_of(EXIT), (0.9, 0.6), strict=True):
        lines.append(_entry("check_exit", _content(["You are checking one statement."],
                                                   check_tail(SAID, part, CONVERSATION)), {"answer": "yes"}, p))
    cache = tmp_path / "cache.jsonl"
    cache.write_text("\n".join(lines) + "\n")
    picks, checks = read_cache(cache)
    assert [(p["state"], p["said"], p["answer"], p["choices"]) for p in picks] == [("party", SAID, OTHER,
                                                                                   [OTHER, EXIT])]
    parts = part_checks(checks, picks[0]["content"], EXIT)
    assert [round(p, 6) for p in parts] == [0.9, 0.6]
    held = holds_with(parts)
    assert held is not None and abs(held - 0.54) < 1e-6
    assert holds_with([0.5, None]) is None and holds_with([]) is None
