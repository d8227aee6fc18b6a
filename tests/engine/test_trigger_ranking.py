"""Description-style triggers ("The user expresses suicidal thoughts"), as Amigo users write them, ranked by the real
packaged MiniLM through the engine's own ranking: for every case of the labelled set (``evals/behaviors.yaml``) that
expects a behavior, that behavior ranks first among the five, although its absolute cosine is often near 0.3 (why
the ranking never gates on an absolute threshold)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tertulia.engine import dbs
from tertulia.engine.adapters.local_embeddings import OnnxSentenceEmbedder, load_local_embedder
from tertulia.engine.contract import BehaviorVersion
from tertulia.engine.context import TurnContext
from tertulia.engine.graph import Graphs
from tertulia.engine.routing import TurnLLM
from tests.engine.support import ports, request, simple_graph

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "evals" / "behaviors.yaml").read_text())


async def test_description_triggers_rank_the_right_behavior_first():
    embedder = load_local_embedder()
    assert isinstance(embedder, OnnxSentenceEmbedder), "install the 'embeddings' extra (pip install -e '.[test]')"
    behaviors = [BehaviorVersion(f"{i + 1:024x}", 1, b["triggers"], [{"type": "inject-instruction",
                 "instruction": b["instruction"], "overrides_instructions": False}])
                 for i, b in enumerate(SPEC["behaviors"])]
    names = {b.set_id: spec["name"] for b, spec in zip(behaviors, SPEC["behaviors"], strict=True)}
    p = ports(embedder=embedder)
    wrong, low = {}, []
    for case in SPEC["cases"]:
        if case["expect"] == "none" or case.get("before"):
            continue
        req = request(simple_graph(), case["say"], state="ask", behaviors=behaviors)
        ranked = await dbs.rank(TurnContext(req, p, TurnLLM(p, {}), Graphs(req)))
        best, score = ranked.scores[0]
        if names[best.set_id] != case["expect"]:
            wrong[case["say"]] = names[best.set_id]
        low.append(score)
    assert wrong == {}
    assert min(low) < 0.45  # the absolute similarity alone would have missed some (the case for ranking)


async def test_trigger_variants_drop_the_subject_and_speak_in_the_first_person():
    assert dbs._variants(["The user expresses suicidal thoughts.", "I want to die"]) == [
        "The user expresses suicidal thoughts.", "expresses suicidal thoughts", "I expresses suicidal thoughts",
        "I want to die"]
