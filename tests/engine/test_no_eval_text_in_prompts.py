"""The decision prompts' fixed texts must not quote the labelled evaluation set (``evals/``): a prompt tuned to the
set's own sentences would make its figures meaningless. Any four consecutive words of a labelled user turn or a
behavior case found in a fixed prompt text fails."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tertulia.engine import contrast, dbs, decisions, exit_check

EVALS = Path(__file__).resolve().parents[2] / "evals"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _said() -> list[str]:
    texts = []
    for path in sorted((EVALS / "graphs").glob("*.yaml")):
        for conv in yaml.safe_load(path.read_text()).get("conversations") or []:
            texts += [t["say"] for t in conv["turns"]]
    for case in yaml.safe_load((EVALS / "behaviors.yaml").read_text())["cases"]:
        texts += [case["say"], *case.get("before", [])]
    return texts


def _fixed_texts() -> list[str]:
    return [contrast.OTHER, contrast.GREETING, decisions.STAY, dbs.SAFETY_NOTE, dbs.NOT_NOW,
            *exit_check.check_tail("", ""), *exit_check.check_tail("", "", exit_check.CONVERSATION)]


def test_the_set_is_found():
    assert len(_said()) >= 96 + 33


def test_no_fixed_prompt_text_quotes_an_evaluation_sentence():
    prompts = [" ".join(_words(t)) for t in _fixed_texts()]
    for said in _said():
        w = _words(said)
        for i in range(len(w) - 3):
            gram = " ".join(w[i:i + 4])
            assert not any(f" {gram} " in f" {p} " for p in prompts), (gram, said)
