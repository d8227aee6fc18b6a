"""Replay a behavior run's per-candidate checks (``contrast``: the near miss or the situation) against the model with a
variant of the prompt, and score the cases as the engine would (the best-ranked candidate picked applies). A quick
screen before a full behavior run (which is what adopts a change; see benchmarks/README.md, "Decision quality").

The requests come from a dump of a run against the scripted stub (instant; the same MiniLM ranking, so the same
candidates and prompts as the model's run), the answers to compare with from that model's own results file:

    python -m tests.engine.openai_stub --port 18777 &
    python evals/run.py --llm http://127.0.0.1:18777/v1 --model stub --only behaviors --dump /tmp/beh.jsonl
    python evals/probe_behaviors.py evals/results/qwen-behaviors-no-eval-example.json /tmp/beh.jsonl swapped --replay yes

``--replay yes`` replays only the checks the run answered with the situation (enough for ``both``: a candidate applies
when it is picked in both orders), ``no`` only the others (enough for ``either``), ``all`` every check. Variants:

* ``same``: unchanged (the replay's noise);
* ``swapped``: the situation listed (and in the schema) first, the near miss second.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src")]

from tertulia.engine.dbs import SITUATION_KEY  # noqa: E402


def _said(req: dict) -> str:
    found = re.search(r"## What the user just said\n(.*?)\n\n", req["messages"][-1]["content"], re.S)
    return found.group(1) if found else ""


def _situation(triggers: list[str]) -> str:
    texts = [" ".join(str(t).split()).rstrip(".") for t in triggers]
    return texts[0] + (f" (or: {'; '.join(texts[1:])})" if texts[1:] else "")


def _enum(req: dict) -> list[str]:
    return req["response_format"]["json_schema"]["schema"]["properties"][SITUATION_KEY]["enum"]


def _swapped(req: dict) -> None:
    near, situation = _enum(req)
    message = req["messages"][-1]
    message["content"] = message["content"].replace(f"- {near}\n- {situation}\n", f"- {situation}\n- {near}\n")
    req["response_format"]["json_schema"]["schema"]["properties"][SITUATION_KEY]["enum"] = [situation, near]


VARIANTS = {"same": lambda req: None, "swapped": _swapped}


def ask(llm: str, req: dict) -> tuple[str, float, int]:
    up = urllib.request.Request(llm.rstrip("/") + "/chat/completions", data=json.dumps(req).encode(),
                                headers={"Content-Type": "application/json"})
    started = time.time()
    body = json.loads(urllib.request.urlopen(up, timeout=900).read())
    answer = json.loads(body["choices"][0]["message"]["content"]).get(SITUATION_KEY, "")
    return answer, time.time() - started, int((body.get("usage") or {}).get("completion_tokens") or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="the model's evals/results/<label>.json (behavior cases)")
    parser.add_argument("dump", help="--dump of a stub run of the same cases (the requests)")
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--replay", choices=("yes", "no", "all", "none"), default="all")
    parser.add_argument("--llm", default="http://127.0.0.1:18601/v1")
    args = parser.parse_args()
    cases = json.loads(Path(args.results).read_text())["behavior_cases"]
    dump = [json.loads(line)["request"] for line in Path(args.dump).read_text().splitlines() if line.strip()]
    spec = yaml.safe_load((HERE / "behaviors.yaml").read_text())["behaviors"]
    names = {_situation(b["triggers"]): b["name"] for b in spec}  # as dbs.py::_contrast_each writes it
    totals = {"run": [0, 0, 0], "variant": [0, 0, 0], "both": [0, 0, 0], "either": [0, 0, 0]}  # tp, fp, fn
    seconds = tokens = asked = 0
    for case in cases:
        picked = {json.loads(c["answer"]).get(SITUATION_KEY, "") for c in case["calls"]
                  if c["kind"] == "check_dynamic_behavior"}
        reqs = [r for r in dump if _said(r) == case["say"]]
        rows = []
        for req in reqs:
            situation = _enum(req)[1]
            run_yes = situation in picked
            var_yes = None
            if args.replay == "all" or (args.replay != "none" and (args.replay == "yes") == run_yes):
                req = json.loads(json.dumps(req))
                VARIANTS[args.variant](req)
                answer, s, t = ask(args.llm, req)
                seconds, tokens, asked = seconds + s, tokens + t, asked + 1
                var_yes = answer.rstrip(".").lower() == situation.rstrip(".").lower()
            rows.append((situation, run_yes, var_yes))
        got = {}
        for mode, rule in (("run", lambda r, v: r), ("variant", lambda r, v: v if v is not None else r),
                           ("both", lambda r, v: r and (v if v is not None else r)),
                           ("either", lambda r, v: r or bool(v))):
            kept = [names[s] for s, r, v in rows if rule(r, v)]  # in the dump's order, not always the ranking's:
            got[mode] = case["got"] if case["got"] in kept else kept[0] if kept else "none"  # the run's pick if kept
        for mode, name in got.items():
            tp, fp, fn = totals[mode]
            ok = name == case["expect"]
            tp += ok and name != "none"
            fp += name != "none" and not ok
            fn += case["expect"] != "none" and not ok
            totals[mode] = [tp, fp, fn]
        marks = " ".join(f"{m}={name}" for m, name in got.items())
        print(f"{case['expect'][:12]:12} {case['say'][:44]:44} {marks}", flush=True)
    for mode, (tp, fp, fn) in totals.items():
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        print(f"{mode:8} P {p:.2f} ({tp}/{tp + fp})  R {r:.2f} ({tp}/{tp + fn})")
    if asked:
        print(f"{asked} requests replayed, {seconds / asked:.1f} s and {tokens / asked:.1f} output tokens each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
