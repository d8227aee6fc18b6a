"""Screen a rule that lets the exit check overrule a contrast pick that stayed, from a run made through the replay
cache (``evals/replay.py --cache``: its misses are stored with their whole responses, token log-probabilities
included), with the check run beside every pick: the engine of commit ``251df6a`` (``--src`` of an export of it), which
asks the check of the offered exit on every turn and decides as the engine does without it. The screen it made (session
14, ``benchmarks/README.md``) found no line worth it, so the engine went back to checking picked exits only; on a run
of today's engine only the exits it picked have a check to read.

    python evals/check_screen.py evals/results/<label>.json /tmp/cache.jsonl --graphs clinic,intake

For every first decision of a turn that started in its expected state (an action state's pick with one exit offered),
it prints the pick, P(yes) of the offered exit and the label, then, for several lines, how many decisions a rule
"take the offered exit when P(yes) >= line, even if the pick stayed" would fix and break against the run's own. Only
the graphs named are read: a held-out graph's decisions must not be looked at to set a line.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src")]

from tertulia.engine.adapters.openai_compat import token_logprobs  # noqa: E402
from tertulia.engine.contrast import DID_KEY  # noqa: E402
from tertulia.engine.debias import option_logprobs  # noqa: E402
from tertulia.engine.exit_check import KEY, NO, YES, p_yes, parts_of, veto_line, vetoed  # noqa: E402

LINES = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def holds_with(probabilities: list[float | None]) -> float | None:
    """P(statement) from its parts' P(yes), as ``exit_check.vetoed`` combines them, to print; None when any is
    unknown (whether the check drops the exit is ``vetoed``'s to say)."""
    if not probabilities or any(p is None for p in probabilities):
        return None
    return math.prod(p for p in probabilities if p is not None)


def _section(content: str, title: str) -> str | None:
    found = re.search(rf"## {re.escape(title)}\n(.*?)(?:\n\n|\Z)", content, re.S)
    return found[1].strip() if found else None


def said_and_talk(content: str) -> tuple[str, str]:
    """What the user just said and the conversation so far, as a decision or check prompt frames them: the key that
    joins a pick to the checks of its exit."""
    found = re.search(r"## Conversation so far\n(.*?)\n\n## ", content, re.S)
    return _section(content, "What the user just said") or "", found[1] if found else ""


def part_checks(checks: dict[tuple[str, str, str], float | None], content: str, statement: str) -> list[float | None]:
    """P(yes) of each part of ``statement`` as the run checked it against the prompt ``content`` (None: not checked)."""
    said, talk = said_and_talk(content)
    return [checks.get((talk, said, part)) for part in parts_of(statement)]


def read_cache(path: Path) -> tuple[list[dict], dict[tuple[str, str, str], float | None]]:
    """The contrast picks (state, said, prompt, choices, answer, the request itself) and the checks' P(yes) by
    (conversation, said, statement)."""
    picks, checks = [], {}
    for line in filter(None, path.read_text().splitlines()):
        entry = json.loads(line)
        request, response = entry["request"], entry.get("response")
        name = (request.get("response_format") or {}).get("json_schema", {}).get("name")
        content = request["messages"][-1]["content"]
        said, talk = said_and_talk(content)
        if name == "check_exit" and response:
            scores = option_logprobs(token_logprobs(response["choices"][0].get("logprobs")), KEY, [YES, NO])
            checks[(talk, said, _section(content, "Statement") or "")] = p_yes(scores)
        elif name == "select_next_action" and "You entered this state during this turn" not in content:
            schema = request["response_format"]["json_schema"]["schema"]
            choices = (schema["properties"].get(DID_KEY) or {}).get("enum")
            if not choices:
                continue
            answer = json.loads(entry["answer"]) if isinstance(entry["answer"], str) else entry["answer"]
            state = re.search(r"## Current state: (\S+)", content)
            picks.append({"state": state[1] if state else "", "said": said, "content": content,
                          "choices": choices, "answer": str(answer.get(DID_KEY) or ""), "request": request})
    return picks, checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("cache", type=Path)
    parser.add_argument("--graphs", required=True, help="comma-separated graphs to read (never a held-out one)")
    args = parser.parse_args()
    graphs = set(args.graphs.split(","))
    turns = [t for t in json.loads(args.results.read_text())["turns"]
             if t["graph"] in graphs and t["from_expected_state"] and t["kind"] != "decision"]
    picks, checks = read_cache(args.cache)
    rows = []
    for t in turns:
        found = [p for p in picks if p["said"] == t["say"] and p["state"] == t["from"]]
        if not found:
            continue
        p = found[0]
        offered = p["choices"][-1]
        parts = part_checks(checks, p["content"], offered)
        held = holds_with(parts)
        stays = p["answer"] != offered
        run_exit = not stays and not vetoed(parts, veto_line(t["say"], offered))
        right_exit = t["expect"] != t["from"]
        rows.append((t, offered, held, stays, run_exit, right_exit))
        mark = "ok " if run_exit == right_exit else "BAD"
        print(f"{mark} {t['graph']:12} {t['from']:14} {t['say'][:44]:44} pick={'stay' if stays else 'exit'} "
              f"P(yes)={'  -  ' if held is None else f'{held:.3f}'} label={'exit' if right_exit else 'stay'}")
    base = sum(r[4] == r[5] for r in rows)
    print(f"\n{len(rows)} first decisions; the run's own rule right on {base}")
    for line in LINES:
        fixed = sum(1 for t, o, h, s, e, r in rows if s and r and not e and h is not None and h >= line)
        broken = sum(1 for t, o, h, s, e, r in rows if s and not r and not e and h is not None and h >= line)
        print(f"  take a stayed pick's exit at P(yes) >= {line:.2f}: fixed {fixed}, broken {broken} "
              f"-> {base + fixed - broken}/{len(rows)}")
    print(f"  decisions with a check read: {sum(1 for r in rows if r[2] is not None)} of {len(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
