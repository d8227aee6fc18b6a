"""Session 17's screen variants in ``evals/probe.py`` rewrite a contrast pick built by the engine's own prompt builders:
``agent-said`` frames the agent's last message before the user's, ``close-apart`` builds a second pick offering the
runner-up exit when the embedder cannot tell the two closest apart. The embedder is a scripted one at its port."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from evals import probe
from tertulia.engine.closeness import Ranking
from tertulia.engine.contract import TranscriptMessage
from tertulia.engine.contrast import DID_KEY, OTHER, contrast_tail
from tertulia.engine.prompts import framed_decision_messages

SAID = "No, that's it."
ASKED = "Is there anything else I can help with?"
DONE = "The user needs nothing else."
MORE = "The user has another problem."
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _pick_request(shown: str, talk: list[TranscriptMessage]) -> dict:
    tail, schema, _ = contrast_tail([f"## What the user just said\n{SAID}", ""], [shown], Ranking([0], [0.3], None),
                                    [])
    messages = framed_decision_messages({"name": "Desk"}, ["Deciding."], talk, tail)
    return {"model": "m", "messages": [{"role": m.role, "content": m.content} for m in messages],
            "response_format": {"type": "json_schema", "json_schema": {"name": "select_next_action",
                                                                       "schema": schema, "strict": True}}}


def _talk() -> list[TranscriptMessage]:
    return [TranscriptMessage("1", "agent-message", "Hello!", T0, "i1"),
            TranscriptMessage("2", "user-message", "My printer jams.", T0, "i2"),
            TranscriptMessage("3", "agent-message", ASKED, T0, "i3"),
            TranscriptMessage("4", "user-message", SAID, T0, "i4")]


def test_agent_said_frames_the_agents_last_message_before_the_users() -> None:
    req = _pick_request(DONE, _talk())
    assert probe.agent_said_of(req) == ASKED
    assert probe.said_of(req) == SAID
    probe.VARIANTS["agent-said"](req)
    content = req["messages"][-1]["content"]
    assert f"## What the agent just said\n{ASKED}\n\n## What the user just said\n{SAID}" in content


def test_agent_said_leaves_a_pick_alone_before_the_agent_has_spoken() -> None:
    req = _pick_request(DONE, [TranscriptMessage("1", "user-message", SAID, T0, "i1")])
    before = json.dumps(req)
    assert probe.agent_said_of(req) == ""
    probe.VARIANTS["agent-said"](req)
    assert json.dumps(req) == before


class _Scripted:
    """Vectors by text: ``near`` has cosine 0.96 to the message, ``far`` less the further ``off`` it leans."""

    def __init__(self, near: str, far: str, off: float) -> None:
        self.vectors = {SAID: [1.0, 0.0, 0.0], near: [1.0, 0.3, 0.0], far: [1.0, 0.0, off]}

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vectors.get(t, [0.0, 1.0]) for t in texts]


def _runner_up(monkeypatch: pytest.MonkeyPatch, off: float, margin: float):  # noqa: ANN202
    import tertulia.engine.adapters.local_embeddings as local

    monkeypatch.setattr(local, "load_local_embedder", lambda: _Scripted(DONE, MORE, off))
    return probe._runner_up(margin)


STATE = {"exit_conditions": [{"description": MORE}, {"description": DONE}]}


def test_close_apart_offers_the_runner_up_instead_of_the_closest(monkeypatch: pytest.MonkeyPatch) -> None:
    req = _pick_request(DONE, _talk())
    second = _runner_up(monkeypatch, 0.4, 0.05)(req, STATE)
    assert second is not None
    content = second["messages"][-1]["content"]
    assert f"- {MORE}\n" in content and f"- {DONE}\n" not in content
    assert second["response_format"]["json_schema"]["schema"]["properties"][DID_KEY]["enum"].count(MORE) == 1
    assert OTHER in second["response_format"]["json_schema"]["schema"]["properties"][DID_KEY]["enum"]
    assert f"- {DONE}\n" in req["messages"][-1]["content"]  # the run's own request is not touched


def test_close_apart_has_no_runner_up_when_the_closest_stands_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    req = _pick_request(DONE, _talk())
    assert _runner_up(monkeypatch, 2.0, 0.05)(req, STATE) is None


def test_close_apart_has_no_runner_up_when_the_pick_shows_another_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    req = _pick_request(MORE, _talk())  # the listing shows the exit MiniLM ranks second
    assert _runner_up(monkeypatch, 0.4, 0.05)(req, STATE) is None
