"""Screen a calibrated contrast pick: replay a run's navigation decisions and read, from the model's token
probabilities, how strongly it prefers the exit over staying, with and without what the user just said.

    python evals/probe_calibrated.py evals/results/base.json /tmp/base.jsonl --llm http://127.0.0.1:18601/v1

The idea is contextual calibration (Zhao et al., 2021, "Calibrate Before Use"): a small model's pick carries a bias
of its own for each prompt (a state whose exit it takes whatever is said, a stay it falls back on). The same prompt
with the user's words replaced by a content-free text ("N/A") measures that bias, and the decision is the exit only
when the message moves the model toward it: ``logit(P(exit | message)) - logit(P(exit | "N/A")) > threshold``.

The replayed prompt is the engine's own (``evals/probe.py`` selects the same decisions). ``P(exit)`` is read at the
first token where the exit's text and the stays' texts part ways (``top_logprobs``), so the greedy answer is the
one the run would give; the probabilities only re-weigh it. Prints each decision, then accuracy for the greedy pick
and for the calibrated one at several thresholds.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
import urllib.request
from pathlib import Path

from probe import STAYS, items  # type: ignore[import-not-found]

from tertulia.engine.contrast import DID_KEY

NULL_TEXT = "N/A"
FLOOR = -20.0  # log-probability given to a group none of whose tokens is in the top list


def _post(llm: str, req: dict) -> dict:
    up = urllib.request.Request(llm.rstrip("/") + "/chat/completions", data=json.dumps(req).encode(),
                                headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(up, timeout=900).read())


def _consistent(remainder: str, token: str) -> bool:
    return bool(token) and (remainder.startswith(token) or token.startswith(remainder))


def exit_logit(body: dict, exits: list[str], stays: list[str]) -> float | None:
    """logit P(exit) at the first token where the exit and stay texts part ways; None if that point is not found."""
    content = (body["choices"][0].get("logprobs") or {}).get("content") or []
    text = "".join(c["token"] for c in content)
    m = re.search(r'"%s"\s*:\s*"' % re.escape(DID_KEY), text)
    if not m:
        return None
    v0, start = m.end(), 0
    for c in content:
        s, start = start, start + len(c["token"])
        if start <= v0:
            continue
        consumed, lead = (text[v0:s], "") if s >= v0 else ("", text[s:v0])
        alive = lambda opts: [lead + o[len(consumed):] for o in opts if o.startswith(consumed)]  # noqa: E731
        e_rem, s_rem = alive(exits), alive(stays)
        if not e_rem or not s_rem:
            return None
        tops = c.get("top_logprobs") or [{"token": c["token"], "logprob": c["logprob"]}]
        mass_e = mass_s = 0.0
        for t in tops:
            in_e = any(_consistent(r, t["token"]) for r in e_rem)
            in_s = any(_consistent(r, t["token"]) for r in s_rem)
            if in_e != in_s:
                p = math.exp(t["logprob"])
                mass_e, mass_s = mass_e + p * in_e, mass_s + p * in_s
        if mass_e or mass_s:
            le = math.log(mass_e) if mass_e else FLOOR
            ls = math.log(mass_s) if mass_s else FLOOR
            return le - ls
    return None


def _null(req: dict, said: str) -> dict:
    out = json.loads(json.dumps(req))
    last = out["messages"][-1]
    last["content"] = last["content"].replace(said.strip(), NULL_TEXT)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results")
    parser.add_argument("dump")
    parser.add_argument("--llm", default="http://127.0.0.1:18601/v1")
    parser.add_argument("--out", help="write the per-decision figures to this JSON file")
    args = parser.parse_args()
    todo = items(json.loads(Path(args.results).read_text()),
                 [json.loads(line) for line in Path(args.dump).read_text().splitlines() if line.strip()])
    rows = []
    for it in todo:
        req = json.loads(json.dumps(it["request"]))
        req.update(logprobs=True, top_logprobs=20)
        enum = req["response_format"]["json_schema"]["schema"]["properties"][DID_KEY]["enum"]
        exits, stays = [e for e in enum if e not in STAYS], [e for e in enum if e in STAYS]
        started = time.time()
        body = _post(args.llm, req)
        null = _post(args.llm, _null(req, it["turn"]["say"]) | {"max_tokens": 40})
        seconds = time.time() - started
        greedy = json.loads(body["choices"][0]["message"]["content"]).get(DID_KEY)
        lg, ln = exit_logit(body, exits, stays), exit_logit(null, exits, stays)
        rows.append({"say": it["turn"]["say"], "from": it["turn"]["from"], "right": it["right"],
                     "greedy": None if greedy in STAYS else greedy, "exit": exits[0] if exits else None,
                     "logit": lg, "null_logit": ln})
        r = rows[-1]
        print(f"{seconds:5.1f}s  logit {lg if lg is not None else float('nan'):6.2f}  null "
              f"{ln if ln is not None else float('nan'):6.2f}  want {'exit' if it['right'] else 'stay':4}  "
              f"{r['from']:13} {r['say'][:50]}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    report(rows)
    return 0


def _ok(row: dict, exit_taken: bool) -> bool:
    if row["right"] is None:
        return not exit_taken
    return exit_taken and row["exit"] in row["right"]


def report(rows: list[dict]) -> None:
    n = len(rows)
    greedy = sum((r["greedy"] is None) if r["right"] is None else (r["greedy"] in r["right"]) for r in rows)
    print(f"greedy pick (the run's prompt): {greedy}/{n}")
    usable = [r for r in rows if r["logit"] is not None and r["null_logit"] is not None]
    print(f"decisions with both probabilities: {len(usable)}/{n}")
    for tau in (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0):
        right = sum(_ok(r, r["logit"] - r["null_logit"] > tau) if r in usable else _ok(r, r["greedy"] is not None)
                    for r in rows)
        plain = sum(_ok(r, r["logit"] > tau) if r["logit"] is not None else _ok(r, r["greedy"] is not None)
                    for r in rows)
        print(f"threshold {tau:+.1f}: calibrated {right}/{n}   uncalibrated logit {plain}/{n}")


if __name__ == "__main__":
    raise SystemExit(main())
