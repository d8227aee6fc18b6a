"""A second transition in one turn may be what one clause of the message is about (``closeness.segments``): "I want a
membership. Priya Nair, priya@nair.org." joins, then gives the details; its whole vector sits near the exit that led
in, so only the clause carries the second exit. The embedder is scripted by text at its port."""

from __future__ import annotations

from collections.abc import Sequence

from tertulia.engine.closeness import Ranking, ranking_for, segments
from tertulia.engine.contrast import DID_KEY, OTHER
from tertulia.engine.fakes import ScriptedLLM
from tests.engine.support import action, graph, ports, request, run

JOIN = "The visitor wants to become a member."
DETAILS = "The visitor has given both their full name and an email address."
LEAVE = "The visitor no longer wants to join."
PLAN = "The visitor has chosen a plan."
SAID = "I want a membership. Priya Nair, priya@nair.org."
GYM = graph([
    action("welcome", ["Greet the visitor"], [(JOIN, "join"), ("The visitor needs nothing.", "bye")]),
    action("join", ["Ask for their full name and email"], [(DETAILS, "plan"), (LEAVE, "bye")]),
    action("plan", ["Ask monthly or yearly"], [(PLAN, "bye")]),
    action("bye", ["Say goodbye"]),
], initial="welcome", terminal="bye")

# axes: joining, details, leaving, anything else
VECTORS = {
    JOIN: [1.0, 0.0, 0.0, 0.0], PLAN: [0.9, 0.0, 0.0, 0.3], DETAILS: [0.0, 1.0, 0.0, 0.0], LEAVE: [0.0, 0.0, 1.0, 0.0],
    SAID: [1.0, 0.5, 0.0, 0.2],  # the whole message: nearer joining than the details
    "I want a membership.": [1.0, 0.0, 0.0, 0.1], "Priya Nair,": [0.0, 0.4, 0.0, 1.0],
    "priya@nair.org.": [0.1, 1.0, 0.0, 0.3],
    "I want a membership, please.": [1.0, 0.2, 0.0, 0.1], "I want a membership,": [1.0, 0.1, 0.0, 0.1],
    "please.": [0.0, 0.1, 0.0, 1.0],
}


class ScriptedEmbedder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [VECTORS.get(t, [0.0, 0.0, 0.0, 1.0]) for t in texts]


def test_segments_are_the_clauses_of_a_message_with_more_than_one() -> None:
    assert segments(SAID) == ["I want a membership.", "Priya Nair,", "priya@nair.org."]
    assert segments("Priya Nair") == [] and segments("4,000 dollars") == [] and segments("...") == []
    assert segments("你好。我要预约，明天") == ["你好。", "我要预约，", "明天"]
    assert len(segments(", ".join(f"part {i}" for i in range(20)))) == 8  # bounded


async def test_a_clause_clearly_about_the_next_exit_allows_the_second_transition() -> None:
    embedder = ScriptedEmbedder()
    whole = Ranking([0, 1], [0.4, 0.0], 0.9)  # the whole message alone: the exit that led in stays closer
    assert not whole.allows(0)
    ranking = await ranking_for(embedder, "join", SAID, [DETAILS, LEAVE], [JOIN])
    assert ranking.allows(0)  # "priya@nair.org." is about the details, not about joining
    assert not ranking.allows(1)  # no part of the message is about leaving
    assert not (await ranking_for(embedder, "join", "I want a membership.", [DETAILS, LEAVE], [JOIN])).allows(0)
    clause_calls = [call for call in embedder.calls if "Priya Nair," in call]
    assert len(clause_calls) == 1 and "priya@nair.org." in clause_calls[0]  # the clauses are embedded in one call


async def test_a_first_decision_is_not_judged_by_clauses() -> None:
    embedder = ScriptedEmbedder()
    ranking = await ranking_for(embedder, "join", SAID, [DETAILS, LEAVE])
    assert ranking.allows(0) and ranking.allows(1)
    assert all("Priya Nair," not in call for call in embedder.calls)  # no clause work without a second transition


def _picks(*said: str):  # noqa: ANN202
    answers = iter(said)

    def script(req, schema):  # noqa: ANN001
        out = {DID_KEY: next(answers, OTHER)}
        if "action" in schema["properties"]:
            out["action"] = schema["properties"]["action"]["enum"][0]
        return out
    return script


async def test_a_message_that_joins_and_gives_the_details_takes_both_exits_in_one_turn() -> None:
    llm = ScriptedLLM()
    llm.decision_defaults["select_next_action"] = _picks(JOIN, DETAILS, PLAN)
    res = await run(request(GYM, SAID, state="welcome"), ports(llm, reasoning="contrast", embedder=ScriptedEmbedder()))
    # the third pick ("has chosen a plan") is closest to "I want a membership.", the clause that already took JOIN
    assert res.insights["current_state_name"] == "plan"
    assert len(res.insights["state_transition_logs"]) == 2


async def test_a_clause_is_weighed_against_every_exit_taken_this_turn() -> None:
    taken_last_only = await ranking_for(ScriptedEmbedder(), "plan", SAID, [PLAN], [DETAILS])
    assert taken_last_only.allows(0)  # "I want a membership." is far from the details...
    assert not (await ranking_for(ScriptedEmbedder(), "plan", SAID, [PLAN], [JOIN, DETAILS])).allows(0)  # not JOIN


async def test_a_message_only_about_joining_stops_after_the_first_exit() -> None:
    llm = ScriptedLLM()
    llm.decision_defaults["select_next_action"] = _picks(JOIN, DETAILS)  # the model would hop: the rule says no
    res = await run(request(GYM, "I want a membership, please.", state="welcome"),
                    ports(llm, reasoning="contrast", embedder=ScriptedEmbedder()))
    assert res.insights["current_state_name"] == "join"
    assert len(res.insights["state_transition_logs"]) == 1
