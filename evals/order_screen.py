"""Screen the contrast pick asked in both orders (the alternative first, as the engine asks it, and the exit first)
with the two answers' token log-probabilities summed, the way ``engine/debias.py`` already decides decision states.

Why (session 16): on the development graphs' closing states ("Check whether there is anything else") the pick chose
the alternative for "No, that's everything, cheers." against "The visitor needs nothing more."; with the exit listed
first it chose the exit for that and for "Thanks, please hurry." against "The employee has another problem" alike.
The listing order decides, so the pick may need what the decision states got: permutation averaging.

    python evals/order_screen.py evals/results/<label>.json /tmp/cache.jsonl --graphs gym,helpdesk \\
        --llm http://127.0.0.1:18690/v1

It reads the run's cache (``evals/replay.py --cache``), takes the first decision of each turn that started in its
expected state (an action state's pick with one exit offered, as ``check_screen.py`` does), asks it again in both
orders with ``logprobs`` (through ``--llm``: point it at the replay proxy, so the answers are cached too), and when
the summed log-probabilities pick the exit, applies the exit check as the engine would: the run's own check when it
asked one, else a check built the way ``engine/exit_check.py`` builds it. Printed: each decision, then how many the
run and the screen get right. Only the graphs named are read: never a held-out graph.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "src")]

from evals.check_screen import part_checks, read_cache, said_and_talk  # noqa: E402
from evals.probe import _state  # noqa: E402
from evals.run import load_graphs  # noqa: E402
from tertulia.engine.adapters.openai_compat import token_logprobs  # noqa: E402
from tertulia.engine.contrast import DID_KEY  # noqa: E402
from tertulia.engine.debias import TOP_LOGPROBS, option_logprobs, pick_in_both_orders  # noqa: E402
from tertulia.engine.exit_check import (  # noqa: E402
    CHECK_HEAD, CONVERSATION, KEY, NO, SAID, SCHEMA, YES, check_tail, p_yes, parts_of, veto_line, vetoed,
)


def _post(llm: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(llm.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def reordered(request: dict[str, Any], listing: list[str]) -> dict[str, Any]:
    """The pick's request with its choices listed (prompt and schema) in ``listing``'s order, asking log-probs."""
    body = copy.deepcopy(request)
    message = body["messages"][-1]
    schema = body["response_format"]["json_schema"]["schema"]
    old = schema["properties"][DID_KEY]["enum"]
    block = "".join(f"- {c}\n" for c in old)
    assert block in message["content"], "the choices are not listed as the engine lists them"
    message["content"] = message["content"].replace(block, "".join(f"- {c}\n" for c in listing), 1)
    schema["properties"][DID_KEY]["enum"] = list(listing)
    body |= {"logprobs": True, "top_logprobs": TOP_LOGPROBS}
    return body


def both_orders(llm: str, request: dict[str, Any], choices: list[str]) -> tuple[str, list[float] | None]:
    """The choice the engine's ``debias.pick_in_both_orders`` takes over the two listings, and each choice's summed
    log-probability (None when an answer had none: then the first order's pick stands, as in the engine)."""
    totals = dict.fromkeys(range(len(choices)), 0.0)
    known = True

    async def ask(listing: list[int]) -> tuple[int | None, list[float] | None]:
        nonlocal known
        listed = [choices[j] for j in listing]
        choice = _post(llm, reordered(request, listed))["choices"][0]
        answer = json.loads(choice["message"]["content"]).get(DID_KEY, "")
        scores = option_logprobs(token_logprobs(choice.get("logprobs")), DID_KEY, listed)
        known = known and scores is not None
        for j, score in zip(listing, scores or [], strict=False):
            totals[j] += score
        return (choices.index(answer) if answer in choices else None), scores

    picked = asyncio.run(pick_in_both_orders(ask, list(range(len(choices)))))
    return ("" if picked is None else choices[picked]), ([totals[j] for j in totals] if known else None)


def check(llm: str, template: dict[str, Any], content: str, statement: str) -> list[float | None]:
    """P(yes) of each part of ``statement``, asked as ``exit_check.exit_holds`` asks it."""
    said, talk = said_and_talk(content)
    parts = parts_of(statement)
    about = SAID if len(parts) == 1 else CONVERSATION
    out = []
    for part in parts:
        body = copy.deepcopy(template)
        body["messages"][-1]["content"] = (CHECK_HEAD + "\n\n## Conversation so far\n" + talk + "\n\n"
                                           + "\n".join(check_tail(said, part, about)))
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "check_exit", "schema": SCHEMA,
                                                                          "strict": True}}
        body |= {"logprobs": True, "top_logprobs": TOP_LOGPROBS}
        choice = _post(llm, body)["choices"][0]
        out.append(p_yes(option_logprobs(token_logprobs(choice.get("logprobs")), KEY, [YES, NO])))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("cache", type=Path)
    parser.add_argument("--graphs", required=True, help="comma-separated graphs to read (never a held-out one)")
    parser.add_argument("--llm", required=True, help="OpenAI-compatible base URL ending in /v1 (the replay proxy)")
    args = parser.parse_args()
    graphs = set(args.graphs.split(","))
    turns = [t for t in json.loads(args.results.read_text())["turns"]
             if t["graph"] in graphs and t["from_expected_state"] and t["kind"] in ("exit", "stay")]
    picks, checks = read_cache(args.cache)
    graphs = load_graphs()
    run_right = screen_right = 0
    rows = 0
    for t in turns:
        found = [p for p in picks if p["said"] == t["say"] and p["state"] == t["from"]]
        if not found or len(found[0]["choices"]) != 2:
            continue
        p = found[0]
        offered = p["choices"][-1]
        request = p["request"]
        right_exit = t["expect"] != t["from"]
        line = veto_line(t["say"], offered)
        known = part_checks(checks, p["content"], offered)
        run_exit = p["answer"] == offered and not vetoed(known, line)
        picked, totals = both_orders(args.llm, request, p["choices"])
        screen_exit = picked == offered
        if screen_exit:
            parts = known if all(k is not None for k in known) else check(args.llm, request, p["content"], offered)
            screen_exit = not vetoed(parts, line)
        lands = target(graphs, t["graph"], t["from"], offered) == t["expect"]
        rows += 1
        run_ok = lands if run_exit else not right_exit
        screen_ok = lands if screen_exit else not right_exit
        run_right += run_ok
        screen_right += screen_ok
        margin = "" if totals is None else f"{totals[1] - totals[0]:+.2f}"
        print(f"{'fix' if screen_ok and not run_ok else 'BRK' if run_ok and not screen_ok else '   '} "
              f"{t['graph']:14} {t['from']:14} {t['say'][:44]:44} run={'exit' if run_exit else 'stay'} "
              f"orders={'exit' if screen_exit else 'stay'} exit-stay={margin:6} label={'exit' if right_exit else 'stay'}",
              flush=True)
    print(f"\n{rows} first decisions: the run right on {run_right}, both orders on {screen_right}")
    return 0


def target(graphs: dict[str, dict], graph: str, state: str, exit_text: str) -> Any:
    """The next state of ``state``'s exit written ``exit_text`` (``graphs``: ``evals/run.load_graphs()``)."""
    for e in _state(graphs, graph, state).get("exit_conditions") or []:
        if e.get("description") == exit_text:
            return e.get("next_state")
    return None


if __name__ == "__main__":
    raise SystemExit(main())
