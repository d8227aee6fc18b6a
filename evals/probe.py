"""Replay a run's navigation decisions against the model with a variant of the prompt: a quick screen for an idea
before a full run (a full run is what adopts it; see benchmarks/README.md, "Decision quality").

    python evals/run.py --llm http://127.0.0.1:18601/v1 --model qwen2.5-coder-1.5b --label base --dump /tmp/base.jsonl
    python evals/probe.py evals/results/base.json /tmp/base.jsonl top1 --llm http://127.0.0.1:18601/v1

Only the first decision of each turn that started in the expected state is replayed (the same prompt the engine sent,
changed by the variant), and only turns whose right answer is a stay or an exit of that state (decision states, tool
exits and second transitions are skipped). Each replay is scored against the label and against the run's own
answer, so both columns count the same decisions. Variants rewrite the ``contrast`` pick (``what_the_user_did``):

* ``same``: unchanged (the replay's noise);
* ``top1`` / ``top2``: only the 1 / 2 exits listed first (the closest to the message);
* ``subject``: the stays speak of the exits' shared subject ("The patient has done none of these ...");
* ``subject-asks``: that, with the alternative as "<subject> asks a question, hesitates, refuses, or says something
  else.";
* ``subject-asks-narrow``: "<subject> only asks a question, hesitates or refuses.";
* ``greeting-subject``: only the greeting in the exits' subject;
* ``said-first``: a ``user_said`` restatement before the pick;
* ``partial``: a third stay after the greeting, ``PARTIAL`` (only part of what the step needs, or something else);
* ``examples``: worked examples from other conversations (``EXAMPLES``) before the latest message (dropped, session
  10: it moves the model toward staying on details, right and wrong alike);
* ``objective``: the greeting replaced by a stay built from the state's own objective ("The agent still has to
  <objective>"); ``objective-too``: that stay added after the greeting; ``objective-only``: that stay alone, without
  the alternative and the greeting.

Session 15's screens (none adopted; benchmarks/README.md, "Twelfth pass"):

* ``question-other``: a message that ends with a question mark is offered "The user asks about something else."
  as its alternative; ``no-refuse``: the alternative without "refuse"; ``no-refuse-question``: both;
* ``close-two`` / ``close-two-05``: when MiniLM cannot tell the closest exit from the next (similarities within
  0.03 / 0.05) both are offered (needs the local embedder, the ``embeddings`` extra).

Session 16's: ``exit-first`` (the alternative listed after the exit: the pick followed the listing on the closing
states, which led to ``evals/order_screen.py``), ``other-short`` and ``exit-first-no-refuse``.

Session 17's (neither adopted): ``agent-said`` (the agent's last message framed as "## What the agent just said"
right before the user's; clearly worse, the model stays far more) and ``close-apart`` / ``close-apart-05`` /
``close-apart-10`` (when MiniLM puts the closest exit and the next within 0.03 / 0.05 / 0.10, a second pick offers
the next one instead; each exit picked keeps only if its exit check holds, of two kept the closer; decisions without
a runner-up are not counted; needs the ``embeddings`` extra).

``--graphs`` keeps the replay to the named graphs (the development ones: a held-out graph is never probed), and
``--cache`` (the run's ``evals/replay.py`` cache) applies the exit check's veto, as the run asked it, to the variant's
picks and the run's alike (session 14's ``no-greeting``: the greeting stay dropped from every pick but a bare
greeting's, which the engine now does).

``verify`` / ``verify-literal`` do not rewrite the pick: each first decision whose run picked an exit is checked by
a yes/no question about that exit alone, with ``logprobs``, and the script prints how many right exits the check
keeps and wrong ones it drops at several margins (the screen behind ``engine/exit_check.py``); ``verify-alone``
asks it without the conversation, only "What the user just said". Both apply the engine's ``veto_line``, so a
question without a figure needs a sure "yes" to keep a "has given / said / chosen" exit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "src")]

from tertulia.engine.contrast import DID_KEY, GREETING, OTHER  # noqa: E402

STAYS = (OTHER, GREETING)


def _state(graphs: dict[str, dict], graph: str, name: str) -> dict[str, Any]:
    for g in [graph, *graphs]:
        for s in graphs[g]["graph"]["states"]:
            if s["name"] == name:
                return s
    raise KeyError(name)


def items(results: dict, dump: list[dict]) -> list[dict]:
    """The replayable decisions: (turn, dumped request, right exits or None for a stay, the run's pick)."""
    graphs = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((HERE / "graphs").glob("*.yaml"))}
    calls = [(t, i, c) for t in results["turns"]
             for i, c in enumerate(c for c in t["calls"] if c["kind"] != "reply (scripted)")]
    if len(calls) != len(dump):
        raise SystemExit(f"{len(calls)} calls in the results, {len(dump)} in the dump: not the same run")
    out = []
    for (t, i, c), r in zip(calls, dump, strict=True):
        if i or c["kind"] != "select_next_action" or not t["from_expected_state"] or t["kind"] == "decision":
            continue
        right = None
        if t["expect"] != t["from"]:
            right = [e["description"] for e in _state(graphs, t["graph"], t["from"]).get("exit_conditions") or []
                     if t["expect"] in [str(x).split(".")[-1] for x in
                                        (e["next_state"] if isinstance(e["next_state"], list) else [e["next_state"]])]]
            if not right:
                continue
        out.append({"turn": t, "request": r["request"], "right": right, "run": _pick(json.loads(c["answer"]), {}),
                    "objective": str(_state(graphs, t["graph"], t["from"]).get("objective") or ""),
                    "state": _state(graphs, t["graph"], t["from"])})
    return out


def _pick(answer: dict, back: dict[str, str]) -> str | None:
    said = back.get(answer.get(DID_KEY), answer.get(DID_KEY))
    return None if said in STAYS else said


def _parts(req: dict) -> tuple[dict, dict, list[str]]:
    schema = req["response_format"]["json_schema"]["schema"]
    return req["messages"][-1], schema, schema["properties"][DID_KEY]["enum"]


def _replace(req: dict, mapping: dict[str, str]) -> dict[str, str]:
    message, schema, enum = _parts(req)
    for old, new in mapping.items():
        message["content"] = message["content"].replace(f"- {old}\n", f"- {new}\n")
    schema["properties"][DID_KEY]["enum"] = [mapping.get(e, e) for e in enum]
    return {mapping.get(e, e): e for e in enum}


def _subject(exits: list[str]) -> str:
    heads = {" ".join(e.split()[:2]) for e in exits}
    return heads.pop() if len(heads) == 1 and next(iter(heads)).split()[0] == "The" else "The user"


def _keep(k: int):  # noqa: ANN202
    def variant(req: dict) -> dict[str, str]:
        message, schema, enum = _parts(req)
        exits = [e for e in enum if e not in STAYS]
        for e in exits[k:]:
            message["content"] = message["content"].replace(f"- {e}\n", "")
        schema["properties"][DID_KEY]["enum"] = [e for e in enum if e in STAYS] + exits[:k]
        return {}
    return variant


def _stays(other: str | None, greeting: bool):  # noqa: ANN202
    def variant(req: dict) -> dict[str, str]:
        who = _subject([e for e in _parts(req)[2] if e not in STAYS])
        mapping = {GREETING: GREETING.replace("The user", who)} if greeting else {}
        if other is not None:
            mapping[OTHER] = other.format(who=who)
        return _replace(req, mapping)
    return variant


def objective_stay(objective: str) -> str:
    """A stay in the state's own terms: what the state is still there to do."""
    text = objective.strip().rstrip(".")
    return f"The agent still has to {text[:1].lower()}{text[1:]}." if text else OTHER


def _objective(where: str):  # noqa: ANN202
    def variant(req: dict, objective: str) -> dict[str, str]:
        message, schema, enum = _parts(req)
        stay = objective_stay(objective)
        if where == "replace":
            return _replace(req, {GREETING: stay})
        exits = [e for e in enum if e not in STAYS]
        kept = [e for e in enum if e in STAYS] if where == "add" else []
        for e in enum:
            if e in STAYS:
                message["content"] = message["content"].replace(f"- {e}\n", "")
        listed = "".join(f"- {e}\n" for e in [*kept, stay])
        first = exits[0] if exits else ""
        message["content"] = message["content"].replace(f"- {first}\n", listed + f"- {first}\n", 1)
        schema["properties"][DID_KEY]["enum"] = [*kept, stay, *exits]
        return {stay: OTHER}
    return variant


def _said_first(req: dict) -> dict[str, str]:
    message, schema, _ = _parts(req)
    schema["properties"] = {"user_said": {"type": "string", "maxLength": 160}, **schema["properties"]}
    schema["required"] = list(schema["properties"])
    message["content"] = message["content"].replace(
        f'Answer in JSON: "{DID_KEY}"', f'Answer in JSON: "user_said": what the user just said, in a few plain words; '
                                        f'then "{DID_KEY}"')
    return {}


PARTIAL = "The user gives only part of what this step needs, or something else it did not ask for."


def _partial(req: dict) -> dict[str, str]:
    """A third stay, listed after the greeting: a detail that does not yet meet the exit."""
    message, schema, enum = _parts(req)
    last = [e for e in enum if e in STAYS][-1]
    message["content"] = message["content"].replace(f"- {last}\n", f"- {last}\n- {PARTIAL}\n", 1)
    at = enum.index(last) + 1
    schema["properties"][DID_KEY]["enum"] = [*enum[:at], PARTIAL, *enum[at:]]
    return {PARTIAL: OTHER}


EXAMPLES = [  # (the exit on offer, what the user says, the right pick: None for the exit)
    ("The customer has given their email address.", "Hey!", GREETING),
    ("The customer says the printer works now.", "It's a LaserJet 200, bought in March.", OTHER),
    ("The customer has given both an email address and a phone number.", "Sure: ana.b@example.org", OTHER),
    ("The customer has given their phone number.", "Why would you need my number?", OTHER),
    ("The customer has given their order number.", "Sure, it's 4471-22.", None),
    ("The customer has a problem with a payment.", "My card keeps getting declined at checkout.", None),
    ("The customer says the printer works now.", "OK it prints again, thank you!", None),
]


def _examples(req: dict) -> dict[str, str]:
    """Worked examples from other conversations, before the latest message: a greeting, details the step asked for
    that do not meet its exit yet, a question, and two messages that do meet their exit."""
    message, _, _ = _parts(req)
    lines = ["## Examples from other conversations (how to pick)"]
    lines += [f'- Exit offered: "{exit_}" The user says: "{said}" Pick: "{pick or exit_}"'
              for exit_, said, pick in EXAMPLES]
    message["content"] = message["content"].replace("## What the user just said", "\n".join(lines) +
                                                    "\n\n## What the user just said", 1)
    return {}


def _drop_greeting(req: dict) -> dict[str, str]:
    """No greeting stay: since ``engine/greeting.py`` a bare greeting is detected before the model is asked, so the
    stay the model is offered for it describes a message it is known not to be."""
    message, schema, enum = _parts(req)
    message["content"] = message["content"].replace(f"- {GREETING}\n", "")
    schema["properties"][DID_KEY]["enum"] = [e for e in enum if e != GREETING]
    return {}


OTHER_DETAIL = ("The user has done none of these: they answer with a detail, ask a question, hesitate, refuse, or say "
                "something else.")


# the alternative's question relative to the exit shown: a question that IS the exit ("asks about the opening hours")
# should not match "ask a question"
OTHER_ELSE = ("The user has done none of these: they ask about something else, hesitate, refuse, or say something "
              "else.")


# the alternative without "refuse": a closing "No, that's it." read as a refusal (session 15)
OTHER_NO_REFUSE = "The user has done none of these: they ask a question, hesitate, or say something else."
# a question's alternative, relative to the exit shown (session 15): "What do you need to know?" took "has said which
# device it is"; a question that is the exit ("asks about the menu") should still take it
OTHER_QUESTION = "The user asks about something else."


def said_of(req: dict) -> str:
    content = req["messages"][-1]["content"]
    head = "## What the user just said\n"
    return content.split(head, 1)[1].split("\n", 1)[0].strip() if head in content else ""


def is_question(said: str) -> bool:
    return said.rstrip().endswith(("?", "\uff1f", "\u061f"))


def _question_other(req: dict) -> dict[str, str]:
    return _replace(req, {OTHER: OTHER_QUESTION}) if is_question(said_of(req)) else {}


def _close_two(margin: float):  # noqa: ANN202
    """The second-closest exit offered too when MiniLM puts it within ``margin`` of the closest (the embedder cannot
    tell them apart: "No, that's it." at 0.14 / 0.13 between "has another problem" and "needs nothing else")."""
    import asyncio

    from tertulia.engine.adapters.local_embeddings import load_local_embedder
    from tertulia.engine.closeness import closest_first, similarities

    embedder = load_local_embedder()

    def variant(req: dict, state: dict) -> dict[str, str]:
        message, schema, enum = _parts(req)
        exits = [str(e.get("description", "")) for e in state.get("exit_conditions") or []]
        shown = [e for e in enum if e not in STAYS]
        if len(exits) < 2 or len(shown) != 1:
            return {}
        sims = asyncio.run(similarities(embedder, said_of(req), exits))
        if sims is None:
            return {}
        order = closest_first(sims)
        if exits[order[0]] != shown[0] or sims[order[0]] - sims[order[1]] > margin:
            return {}
        second = exits[order[1]]
        message["content"] = message["content"].replace(f"- {shown[0]}\n", f"- {shown[0]}\n- {second}\n", 1)
        schema["properties"][DID_KEY]["enum"] = [*enum, second]
        return {}
    return variant


def agent_said_of(req: dict) -> str:
    """The agent's last message in a dumped pick's conversation ("" when the agent has not spoken yet)."""
    content = req["messages"][-1]["content"]
    talk = content.split("## Conversation so far\n", 1)[-1].split("\n\n## What the user just said", 1)[0]
    said = [line.removeprefix("Agent: ") for line in talk.splitlines() if line.startswith("Agent: ")]
    return said[-1].strip() if said else ""


def _agent_said(req: dict) -> dict[str, str]:
    """The agent's last message framed on its own right before the user's ("## What the agent just said"): an answer
    ("No, that's it.", "Around 8pm would be great.") is read against the question it answers."""
    message = req["messages"][-1]
    agent = agent_said_of(req)
    head = "## What the user just said\n"
    if agent and head in message["content"]:
        message["content"] = message["content"].replace(head, f"## What the agent just said\n{agent}\n\n{head}", 1)
    return {}


def _runner_up(margin: float):  # noqa: ANN202
    """A second pick, offering the next-closest exit instead of the closest, when MiniLM puts the two within
    ``margin`` (``close-apart``: each exit judged against the alternative on its own, not both in one list)."""
    import asyncio

    from tertulia.engine.adapters.local_embeddings import load_local_embedder
    from tertulia.engine.closeness import closest_first, similarities

    embedder = load_local_embedder()

    def second_request(req: dict, state: dict) -> dict | None:
        _, _, enum = _parts(req)
        exits = [str(e.get("description", "")) for e in state.get("exit_conditions") or []]
        shown = [e for e in enum if e not in STAYS]
        if len(exits) < 2 or len(shown) != 1:
            return None
        sims = asyncio.run(similarities(embedder, said_of(req), exits))
        if sims is None:
            return None
        order = closest_first(sims)
        if exits[order[0]] != shown[0] or sims[order[0]] - sims[order[1]] > margin:
            return None
        other = json.loads(json.dumps(req))
        message, schema, _ = _parts(other)
        second = exits[order[1]]
        message["content"] = message["content"].replace(f"- {shown[0]}\n", f"- {second}\n", 1)
        schema["properties"][DID_KEY]["enum"] = [second if e == shown[0] else e for e in enum]
        return other
    return second_request


def _both(*variants):  # noqa: ANN202
    def variant(req: dict) -> dict[str, str]:
        back: dict[str, str] = {}
        for v in variants:
            back |= v(req)
        return back
    return variant


def _action_first(req: dict) -> dict[str, str]:
    """With several actions, the action to perform if staying is chosen before the pick: what the state still has
    to do is named before the model says whether the user's message met the exit."""
    message, schema, _ = _parts(req)
    props = schema["properties"]
    if "action" not in props:
        return {}
    schema["properties"] = {"action": props["action"], **{k: v for k, v in props.items() if k != "action"}}
    schema["required"] = list(schema["properties"])
    content = message["content"]
    head, _, rest = content.rpartition("Answer in JSON: ")
    did, _, act = rest.rstrip(".").partition("; then ")
    message["content"] = head + "Answer in JSON: " + act + "; then " + did + "."
    return {}


# session 16: a closing "No, that's everything, cheers." picked the alternative over "The visitor needs nothing more."
OTHER_SHORT = "Something else: a question, a hesitation, or another topic."


def _exit_first(req: dict) -> dict[str, str]:
    """The alternative listed after the exit (in the prompt and the schema): is the stay a magnet by position?"""
    message, schema, enum = _parts(req)
    stays = [e for e in enum if e in STAYS]
    exits = [e for e in enum if e not in STAYS]
    if not exits:
        return {}
    content = message["content"]
    for e in stays:
        content = content.replace(f"- {e}\n", "", 1)
    last = exits[-1]
    message["content"] = content.replace(f"- {last}\n", f"- {last}\n" + "".join(f"- {e}\n" for e in stays), 1)
    schema["properties"][DID_KEY]["enum"] = [*exits, *stays]
    return {}


VARIANTS = {
    "same": lambda req: {},
    "agent-said": _agent_said,
    "exit-first": _exit_first,
    "other-short": _stays(OTHER_SHORT, False),
    "exit-first-no-refuse": _both(_exit_first, _stays(OTHER_NO_REFUSE, False)),
    "action-first": _action_first,
    "no-greeting": _drop_greeting,
    "other-detail": _stays(OTHER_DETAIL, False),
    "other-detail-no-greeting": _both(_stays(OTHER_DETAIL, False), _drop_greeting),
    "other-else-no-greeting": _both(_stays(OTHER_ELSE, False), _drop_greeting),
    "examples": _examples,
    "partial": _partial,
    "top1": _keep(1),
    "top2": _keep(2),
    "subject": _stays("{who}" + OTHER.removeprefix("The user"), True),
    "subject-asks": _stays("{who} asks a question, hesitates, refuses, or says something else.", True),
    "subject-asks-narrow": _stays("{who} only asks a question, hesitates or refuses.", True),
    "greeting-subject": _stays(None, True),
    "said-first": _said_first,
    "no-refuse": _stays(OTHER_NO_REFUSE, False),
    "question-other": _question_other,
    "no-refuse-question": _both(_stays(OTHER_NO_REFUSE, False), _question_other),
}
WITH_STATE = {"close-two": 0.03, "close-two-05": 0.05}
APART = {"close-apart": 0.03, "close-apart-05": 0.05, "close-apart-10": 0.10}
WITH_OBJECTIVE = {"objective": _objective("replace"), "objective-too": _objective("add"),
                  "objective-only": _objective("only")}


# More triage messages for the decision-state probe (the set has four): (what the patient says, the right exit's
# next state). Each replaces the message of the set's first triage request, so the rest of the prompt is the engine's.
TRIAGE = [
    ("I twisted my ankle yesterday and it's a bit swollen.", "collect"),
    ("I've had a mild headache since this morning.", "collect"),
    ("My toddler has a runny nose and a low fever.", "collect"),
    ("My back has been a little stiff for a week.", "collect"),
    ("I suddenly can't feel my left arm and my speech is slurred.", "emergency"),
    ("I'm bleeding a lot from a deep cut and it won't stop.", "emergency"),
    ("I can't catch my breath and my lips are turning blue.", "emergency"),
    ("I fainted twice this morning and I still feel dizzy.", "emergency"),
]


def decision_items(results: dict, dump: list[dict]) -> list[dict]:
    """The decision-state requests of turns that reached their decision from the expected state, then ``TRIAGE``'s
    messages put into the first of them: (message, request, the right exit's next state, the run's pick or None)."""
    calls = [(t, c) for t in results["turns"] for c in t["calls"] if c["kind"] != "reply (scripted)"]
    out = [{"say": t["say"], "request": r["request"], "expect": t["expect"],
            "run": json.loads(c["answer"]).get("exit_condition")}
           for (t, c), r in zip(calls, dump, strict=True)
           if c["kind"] == "select_next_state_for_decision_state" and t["from_expected_state"] and t["kind"] == "decision"]
    if out:
        first = json.dumps(out[0]["request"])
        for say, expect in TRIAGE:
            out.append({"say": say, "expect": expect, "run": None,
                        "request": json.loads(first.replace(json.dumps(out[0]["say"])[1:-1], json.dumps(say)[1:-1]))})
    return out


GUIDELINE_NONE = "None of the decision guidelines applies."


def _guideline_first(req: dict) -> None:
    """Which decision guideline applies (or none), written before the exit is named."""
    message = req["messages"][-1]
    schema = req["response_format"]["json_schema"]["schema"]
    text = "\n".join(m["content"] for m in req["messages"] if isinstance(m.get("content"), str))
    lines = text.split("## Decision guidelines\n", 1)[1].split("\n## ", 1)[0].splitlines()
    guidelines = [line[2:] for line in lines if line.startswith("- ")] + [GUIDELINE_NONE]
    props = schema["properties"]
    schema["properties"] = {"key_facts": props["key_facts"],
                            "guideline_that_applies": {"type": "string", "enum": guidelines},
                            "exit_condition": props["exit_condition"]}
    schema["required"] = list(schema["properties"])
    message["content"] = message["content"].replace(
        '; then "exit_condition"', f'; then "guideline_that_applies": the decision guideline these facts fall under, '
                                   f'copied exactly, or "{GUIDELINE_NONE}"; then "exit_condition"')


def _no_facts(req: dict) -> None:
    """The exit named at once, with no restatement before it."""
    schema = req["response_format"]["json_schema"]["schema"]
    schema["properties"].pop("key_facts")
    schema["required"] = list(schema["properties"])
    message = req["messages"][-1]
    head, _, rest = message["content"].partition('Answer in JSON: "key_facts"')
    message["content"] = head + 'Answer in JSON: "exit_condition": the exit condition that best matches, copied exactly.'


def _facts_verdict(req: dict) -> None:
    """The restatement, then a verdict in the words of each exit: which one the facts show, as a pick of the exit
    texts turned into statements about those facts."""
    schema = req["response_format"]["json_schema"]["schema"]
    exits = schema["properties"]["exit_condition"]["enum"]
    schema["properties"] = {"key_facts": schema["properties"]["key_facts"],
                            "these_facts_show": {"type": "string", "enum": exits}}
    schema["required"] = list(schema["properties"])
    message = req["messages"][-1]
    head, _, rest = message["content"].partition('Answer in JSON: "key_facts"')
    message["content"] = head + ('Answer in JSON: "key_facts": the facts of the conversation that decide this, in a '
                                 'few plain words; then "these_facts_show": the exit condition those facts show, '
                                 'copied exactly.')


def _swapped(variant):  # noqa: ANN202
    """``variant`` with the exits listed (and enumerated) in the other order: what position alone decides."""
    def swapped(req: dict) -> None:
        variant(req)
        schema = req["response_format"]["json_schema"]["schema"]
        field = next(k for k in schema["properties"] if k != "key_facts" and "enum" in schema["properties"][k])
        exits = schema["properties"][field]["enum"]
        message = req["messages"][-1]
        listed = "".join(f"- {e}\n" for e in exits)
        message["content"] = message["content"].replace(listed, "".join(f"- {e}\n" for e in exits[::-1]))
        schema["properties"][field]["enum"] = exits[::-1]
    return swapped


DECISION_VARIANTS = {"dec-same": lambda req: None, "dec-guideline": _guideline_first, "dec-no-facts": _no_facts,
                     "dec-facts-show": _facts_verdict, "dec-no-facts-swapped": _swapped(_no_facts),
                     "dec-same-swapped": _swapped(lambda req: None)}


def probe_decisions(results: dict, dump: list[dict], variant: str, llm: str) -> int:
    todo = decision_items(results, dump)
    right = 0
    for it in todo:
        req = json.loads(json.dumps(it["request"]))
        DECISION_VARIANTS[variant](req)
        answer, seconds, tokens = ask(llm, req)
        picked = str(answer.get("exit_condition") or answer.get("these_facts_show") or "")
        ok = ("life-threatening" in picked) == (it["expect"] == "emergency")  # the clinic's triage: two exits
        right += ok
        print(f"{'ok ' if ok else 'BAD'} {seconds:5.1f}s {tokens:3d} tokens  {it['say'][:55]:55} -> {picked[:40]}"
              f"  {json.dumps({k: v for k, v in answer.items() if k != 'exit_condition'})[:160]}", flush=True)
    print(f"{variant}: {right}/{len(todo)} right")
    return 0


def ask(llm: str, req: dict) -> tuple[dict, float, int]:
    up = urllib.request.Request(llm.rstrip("/") + "/chat/completions", data=json.dumps(req).encode(),
                                headers={"Content-Type": "application/json"})
    started = time.time()
    body = json.loads(urllib.request.urlopen(up, timeout=900).read())
    return (json.loads(body["choices"][0]["message"]["content"]), time.time() - started,
            int((body.get("usage") or {}).get("completion_tokens") or 0))


VERIFY_FORMS = {
    "verify": ("Is this statement true of what the user just said?", "yes", "no"),
    "verify-literal": ("Did the user's latest message, by itself, clearly say this?", "yes", "no"),
    # session 15: the latest message alone, without the conversation (a question about the step's own subject,
    # "What do you need to know?", read "yes" against "has said which device it is" with the conversation shown)
    "verify-alone": ("Is this statement true of what the user just said?", "yes", "no"),
}


def verification(req: dict, statement: str, form: str) -> dict:
    """A yes/no check of one exit condition against what the user just said: the run's system message, the
    conversation and the latest message from its dumped pick, then the statement."""
    question, yes, no = VERIFY_FORMS[form]
    content = req["messages"][-1]["content"]
    sections = ("What the user just said",) if form == "verify-alone" else ("Conversation so far",
                                                                            "What the user just said")
    keep = [part for part in content.split("\n## ") if part.startswith(sections)]
    body = ["You are checking one statement about a conversation. Do not write a reply to the user.",
            *("## " + part.strip() for part in keep), "## Statement", statement, "",
            f'{question} Answer in JSON: "answer": "{yes}" or "{no}".']
    out = json.loads(json.dumps(req))
    out["messages"][-1] = {"role": "user", "content": "\n".join(body)}
    out["response_format"]["json_schema"] = {"name": "verify_exit", "strict": True, "schema": {
        "type": "object", "properties": {"answer": {"type": "string", "enum": [yes, no]}},
        "required": ["answer"], "additionalProperties": False}}
    return out


def probe_verify(results: dict, dump: list[dict], form: str, llm: str, graphs: list[str] | None = None) -> int:
    """Every first decision whose run picked an exit, checked by ``verification``: right exits should be kept
    (yes), wrong ones dropped (no)."""
    kept = dropped = right_exits = wrong_exits = 0
    margins: list[tuple[float, bool]] = []
    for it in items(results, dump):
        if it["run"] is None or (graphs and it["turn"]["graph"] not in graphs):
            continue
        req = verification(it["request"], it["run"], form)
        req |= {"logprobs": True, "top_logprobs": 5}
        answer, seconds, margin = ask_margin(llm, req, "answer", list(VERIFY_FORMS[form][1:]))
        yes = answer.get("answer") == VERIFY_FORMS[form][1]
        right = it["right"] is not None and it["run"] in it["right"]
        margins.append((margin, right))
        right_exits, wrong_exits = right_exits + right, wrong_exits + (not right)
        kept, dropped = kept + (right and yes), dropped + (not right and not yes)
        t = it["turn"]
        print(f"{'ok ' if yes == right else 'BAD'} {'right' if right else 'WRONG'} exit, check says "
              f"{'yes' if yes else 'no '} (yes-no {margin:+6.2f}) {seconds:5.1f}s  {t['from']:13} {t['say'][:45]:45} "
              f"-> {it['run'][:50]}", flush=True)
    print(f"{form}: right exits kept {kept}/{right_exits}, wrong exits dropped {dropped}/{wrong_exits}")
    for threshold in (-4, -3, -2, -1, 0, 1):
        keep = sum(1 for m, r in margins if r and m >= threshold)
        drop = sum(1 for m, r in margins if not r and m < threshold)
        print(f"  exit kept when log P(yes) - log P(no) >= {threshold:+d}: right exits kept {keep}, wrong dropped {drop}")
    return 0


def ask_margin(llm: str, req: dict, key: str, options: list[str]) -> tuple[dict, float, float]:
    """``ask`` with the answer's log-probabilities: log P(options[0]) - log P(options[1]) for ``key``'s value."""
    from tertulia.engine.adapters.openai_compat import token_logprobs
    from tertulia.engine.debias import option_logprobs

    up = urllib.request.Request(llm.rstrip("/") + "/chat/completions", data=json.dumps(req).encode(),
                                headers={"Content-Type": "application/json"})
    started = time.time()
    body = json.loads(urllib.request.urlopen(up, timeout=900).read())
    scores = option_logprobs(token_logprobs(body["choices"][0].get("logprobs")), key, options)
    margin = scores[0] - scores[1] if scores else float("nan")
    return json.loads(body["choices"][0]["message"]["content"]), time.time() - started, margin


def _checks(cache: Path):  # noqa: ANN202
    """A function telling whether the exit check, as the run asked it (``check_screen.read_cache``), keeps an exit
    picked on a dumped request (None when the cache holds no check for it)."""
    from evals.check_screen import part_checks, read_cache
    from tertulia.engine.exit_check import veto_line, vetoed

    _, checks = read_cache(cache)

    def keeps(req: dict, exit_text: str) -> bool | None:
        parts = part_checks(checks, req["messages"][-1]["content"], exit_text)
        return None if None in parts else not vetoed(parts, veto_line(said_of(req), exit_text))
    return keeps


def _apart_pick(llm: str, it: dict, second: dict | None, held_of) -> tuple:  # noqa: ANN001
    """``close-apart``: the run's pick, and when there is a runner-up, its own pick too; each exit picked keeps only
    if its check holds (asked live when the run's cache has no check for it); of two kept, the closest.
    ``(False, 0, 0)`` when nothing changes (no runner-up): the decision is the run's and is not counted."""
    if second is None:
        return False, 0.0, 0
    answer, seconds, tokens = ask(llm, second)
    picks = [p for p in (it["run"], _pick(answer, {})) if p is not None]
    for p in picks:
        keeps = held_of(it["request"], p) if held_of else None
        if keeps is None:
            from evals.order_screen import check
            from tertulia.engine.exit_check import veto_line, vetoed
            content = it["request"]["messages"][-1]["content"]
            keeps = not vetoed(check(llm, it["request"], content, p), veto_line(said_of(it["request"]), p))
        if keeps:
            return p, seconds, tokens
    return None, seconds, tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="evals/results/<label>.json of the run that wrote the dump")
    parser.add_argument("dump", help="the run's --dump file")
    parser.add_argument("variant", choices=sorted([*VARIANTS, *WITH_OBJECTIVE, *WITH_STATE, *APART,
                                                    *DECISION_VARIANTS, *VERIFY_FORMS]))
    parser.add_argument("--llm", default="http://127.0.0.1:18601/v1")
    parser.add_argument("--changed", action="store_true",
                        help="only the decisions whose request the variant changes (the rest repeat the run's answer)")
    parser.add_argument("--graphs", default="", help="only these graphs' decisions (comma-separated; never a held-out one)")
    parser.add_argument("--cache", type=Path, help="the run's replay cache (evals/check_screen.py): apply the exit "
                        "check's veto, read from the checks it holds, to the picks")
    args = parser.parse_args()
    results = json.loads(Path(args.results).read_text())
    dump = [json.loads(line) for line in Path(args.dump).read_text().splitlines() if line.strip()]
    if args.variant in VERIFY_FORMS:
        return probe_verify(results, dump, args.variant, args.llm, [g for g in args.graphs.split(",") if g])
    if args.variant in DECISION_VARIANTS:
        return probe_decisions(results, dump, args.variant, args.llm)
    todo = [it for it in items(results, dump) if not args.graphs or it["turn"]["graph"] in args.graphs.split(",")]
    held_of = _checks(args.cache) if args.cache else None
    with_state = _close_two(WITH_STATE[args.variant]) if args.variant in WITH_STATE else None
    apart = _runner_up(APART[args.variant]) if args.variant in APART else None
    right = run_right = asked = 0
    for it in todo:
        req = json.loads(json.dumps(it["request"]))
        if apart:
            pick, seconds, tokens = _apart_pick(args.llm, it, apart(req, it["state"]), held_of)
            if pick is False:
                continue
        else:
            back = (WITH_OBJECTIVE[args.variant](req, it["objective"]) if args.variant in WITH_OBJECTIVE
                    else with_state(req, it["state"]) if with_state else VARIANTS[args.variant](req))
            if args.changed and req == it["request"]:
                continue
            answer, seconds, tokens = ask(args.llm, req)
            pick = _pick(answer, back)
        if held_of is not None:  # the exit check's veto on both the variant's pick and the run's
            pick, it["run"] = (None if p is not None and held_of(it["request"], p) is False else p
                               for p in (pick, it["run"]))
        ok = pick is None if it["right"] is None else pick in it["right"]
        run_ok = it["run"] is None if it["right"] is None else it["run"] in it["right"]
        right, run_right, asked = right + ok, run_right + run_ok, asked + 1
        t = it["turn"]
        print(f"{'ok ' if ok else 'BAD'} (run {'ok ' if run_ok else 'BAD'}) {seconds:5.1f}s {tokens:3d} tokens  "
              f"{t['from']:13} {t['say'][:45]:45} -> {pick or 'stay'}", flush=True)
    print(f"{args.variant}: {right}/{asked} right, the run's own answers {run_right}/{asked}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
