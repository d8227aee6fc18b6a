"""Scores of one evaluation run (``evals/run.py``'s result dict or a saved ``evals/results/*.json``).

    python evals/report.py evals/results/qwen-before.json [more.json ...]

Navigation: accuracy over all labelled turns, per graph, per decision kind (``stay``, ``exit``, ``decision``,
``multi-hop``, ``enter-graph``, ``jumpback``, ``tool``), and over the turns that started in the expected state (an
earlier mistake cannot be blamed on the turn). Confusion pairs: ``expected -> got`` counts. Behaviors: precision and
recall over the cases expecting a behavior (a wrong behavior counts against both). LLM calls per turn, mean output
tokens and latency per call kind (the ``json_schema`` name of each decision).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter, defaultdict
from typing import Any


def _pct(ok: int, n: int) -> str:
    return f"{100 * ok / n:5.1f}% ({ok}/{n})" if n else "   n/a"


def navigation(rows: list[dict]) -> dict[str, Any]:
    by_graph, by_kind = defaultdict(list), defaultdict(list)
    for r in rows:
        by_graph[r["graph"]].append(r["ok"])
        by_kind[r["kind"]].append(r["ok"])
    fair = [r["ok"] for r in rows if r["from_expected_state"]]
    return {
        "accuracy": sum(r["ok"] for r in rows) / len(rows) if rows else None,
        "n": len(rows), "ok": sum(r["ok"] for r in rows),
        "from_expected_state": (sum(fair), len(fair)),
        "graphs": {g: (sum(v), len(v)) for g, v in by_graph.items()},
        "kinds": {k: (sum(v), len(v)) for k, v in by_kind.items()},
        "confusion": Counter(f"{r['expect']} -> {r['got']}" for r in rows if not r["ok"]).most_common(),
    }


def behaviors(cases: list[dict]) -> dict[str, Any]:
    tp = sum(1 for c in cases if c["expect"] != "none" and c["got"] == c["expect"])
    predicted = sum(1 for c in cases if c["got"] not in ("none", "ERROR"))
    positives = sum(1 for c in cases if c["expect"] != "none")
    by_tag = defaultdict(list)
    for c in cases:
        by_tag[c["tag"]].append(c["ok"])
    return {
        "precision": tp / predicted if predicted else None, "recall": tp / positives if positives else None,
        "tp": tp, "predicted": predicted, "positives": positives,
        "accuracy": (sum(c["ok"] for c in cases), len(cases)),
        "tags": {t: (sum(v), len(v)) for t, v in by_tag.items()},
        "confusion": Counter(f"{c['expect']} -> {c['got']}" for c in cases if not c["ok"]).most_common(),
    }


def llm_calls(items: list[dict]) -> dict[str, dict[str, float]]:
    per = defaultdict(list)
    for item in items:
        for call in item["calls"]:
            per[call["kind"]].append(call)
    out = {}
    for kind, calls in sorted(per.items()):
        ms = [c["ms"] for c in calls]
        out[kind] = {"calls": len(calls), "per_turn": len(calls) / len(items), "out_tokens": statistics.fmean(
            c["output_tokens"] for c in calls), "ms_mean": statistics.fmean(ms), "ms_p50": statistics.median(ms)}
    return out


def report(run: dict[str, Any]) -> str:
    lines = [f"== {run.get('llm')} model={run.get('model')} env={run.get('env')} "
             f"scripted_replies={run.get('scripted_replies')} ({run.get('seconds')} s)"]
    rows, cases = run.get("turns") or [], run.get("behavior_cases") or []
    if rows:
        nav = navigation(rows)
        lines.append(f"navigation  {_pct(nav['ok'], nav['n'])}   "
                     f"from the expected state {_pct(*nav['from_expected_state'])}")
        lines += [f"  graph {g:14s} {_pct(*v)}" for g, v in nav["graphs"].items()]
        lines += [f"  kind  {k:14s} {_pct(*v)}" for k, v in sorted(nav["kinds"].items())]
        lines += ["  confusion (expected -> got): " + ", ".join(f"{p} x{n}" for p, n in nav["confusion"][:12])]
    if cases:
        b = behaviors(cases)
        p = "n/a" if b["precision"] is None else f"{b['precision']:.2f}"
        rc = "n/a" if b["recall"] is None else f"{b['recall']:.2f}"
        lines.append(f"behaviors   precision {p} ({b['tp']}/{b['predicted']})   recall {rc} ({b['tp']}/{b['positives']})"
                     f"   cases right {_pct(*b['accuracy'])}")
        lines += [f"  tag   {t:14s} {_pct(*v)}" for t, v in sorted(b["tags"].items())]
        lines += ["  confusion (expected -> got): " + ", ".join(f"{p} x{n}" for p, n in b["confusion"][:12])]
    for title, items in (("navigation turns", rows), ("behavior cases", cases)):
        if not items:
            continue
        lines.append(f"LLM calls per {title[:-1]} ({len(items)}): kind, calls/turn, mean output tokens, mean / p50 ms")
        for kind, s in llm_calls(items).items():
            lines.append(f"  {kind:38s} {s['per_turn']:5.2f}  {s['out_tokens']:6.1f}  "
                         f"{s['ms_mean']:8.0f} / {s['ms_p50']:.0f}")
        turn_ms = [i["ms"] for i in items]
        lines.append(f"  turn time mean {statistics.fmean(turn_ms) / 1000:.2f} s, p50 {statistics.median(turn_ms) / 1000:.2f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(report(json.loads(open(path).read())))
