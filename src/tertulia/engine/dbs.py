"""Dynamic behavior selection: rank the behaviors by how close their triggers are to the recent context, then let
the LLM confirm one of the best-ranked candidates (or none). Ranking never gates on an absolute similarity: Amigo
triggers are descriptions ("The user expresses suicidal thoughts") whose cosine to a matching utterance ("I don't
want to be alive anymore") is often ~0.3, under any useful threshold, while its RANK among the behaviors is right
(measured on ``evals/behaviors.yaml``). So the top ``TOP_K`` always reach the confirmation, which is told to err
toward safety behaviors.

* Context vector = normalise(0.7 · latest user/external input + 0.3 · recent history): the new input dominates, so a
  topic pivot moves the ranking at once, while history keeps a running theme alive.
* Each trigger is embedded as written and as a first-person utterance ("The user expresses suicidal thoughts" →
  "expresses suicidal thoughts", "I expresses suicidal thoughts"); a behavior scores its best variant. Embeddings are
  cached in-process per ``(embedder, set_id, version)``: a version's triggers never change.
* No behaviors → no embedding, no LLM call. The previous behavior ranked first by a clear margin
  (``KEEP_MARGIN``) and still scoring ``KEEP_THRESHOLD`` → kept without an LLM call (a new topic that outranks it is
  always judged).
* ``Ports.reasoning`` ``"contrast"``/``"checklist"``/``"checks"`` (small local models): each candidate is judged in its
  own small request, all at once, seeing only its own situation; the best-ranked "yes" applies (on Qwen2.5-Coder-1.5B
  recall 0.30 → 0.95 at the same precision, 0.60 → 0.59, benchmarks/README.md). Under ``"contrast"`` the "yes" is a
  pick between two descriptions of what the user just said, a near miss (``NOT_NOW``: an ordinary question, thanks or
  chat, the topic merely mentioned, a past event, someone else, a figure of speech) or the behavior's situation:
  precision 0.59 → 0.86 at the same recall, 0.95 (the yes/no check said yes to the medical emergency on "Where do I
  park?"). It asks only about the best-ranked candidate (``CONTRAST_TOP_K``; plus a previous behavior still in play):
  one request a turn instead of three. ``"brief"``: one confirmation that
  restates what the user just said, then names the behavior by its trigger text; ``"none"``: one labelled pick
  (``behavior N`` / ``none``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tertulia.engine.checks import gather_all
from tertulia.engine.closeness import VectorCache, normalise_rows
from tertulia.engine.contract import BehaviorVersion, EngineError
from tertulia.engine.prompts import bullet, framed_decision_messages, latest_input

if TYPE_CHECKING:
    from tertulia.engine.context import TurnContext

KEEP_THRESHOLD = 0.15  # the previous behavior is kept without a call only while it scores at least this
KEEP_MARGIN = 0.10  # ... and leads the runner-up by this much
TOP_K = 3
# The contrast depth asks only about the best-ranked candidate (and a previous behavior still in play): on
# Qwen2.5-Coder-1.5B the lower-ranked ones' checks only ever added false alarms (a complaint on a remark about traffic;
# every labelled positive of evals/behaviors.yaml ranks first), and one request instead of three.
CONTRAST_TOP_K = 1
USER_WEIGHT, HISTORY_WEIGHT = 0.7, 0.3
HISTORY_MESSAGES = 6
NONE_OPTION = "none"

_TRIGGERS = VectorCache(2048)  # trigger vectors by (set_id, version): a version's triggers never change


@dataclass
class Selection:
    selected: BehaviorVersion | None = None
    scores: list[tuple[BehaviorVersion, float]] = field(default_factory=list)
    embedded: bool = False


def context_texts(ctx: TurnContext) -> tuple[str, str]:
    transcript = ctx.request.transcript
    new_ids = set(ctx.request.new_message_ids)
    latest = [m.text for m in transcript if m.id in new_ids]
    if not latest:
        latest = [m.text for m in transcript[-2:] if m.message_type in ("user-message", "external-event")][-1:]
    history = [m.text for m in transcript[-HISTORY_MESSAGES:] if m.message_type != "agent-inner-thought"]
    return " ".join(latest), " ".join(history)


async def rank(ctx: TurnContext) -> Selection:
    behaviors = [b for b in ctx.request.behaviors if b.conversation_triggers]
    if not behaviors:
        return Selection()
    latest, history = context_texts(ctx)
    if not (latest or history):
        return Selection(embedded=False)
    cache = _TRIGGERS.of(ctx.ports.embedder)
    missing = [b for b in behaviors if (b.set_id, b.version) not in cache]
    texts = [latest or history, history or latest] + [v for b in missing for v in _variants(b.conversation_triggers)]
    try:
        vectors = np.asarray(await ctx.ports.embedder.embed(texts), dtype=np.float32)
    except Exception as exc:  # noqa: BLE001
        raise EngineError(f"The embedding model failed: {exc}", 502) from exc
    offset = 2
    for b in missing:
        n = len(_variants(b.conversation_triggers))
        _TRIGGERS.put(cache, (b.set_id, b.version), normalise_rows(vectors[offset : offset + n]))
        offset += n
    query = normalise_rows((USER_WEIGHT * vectors[0] + HISTORY_WEIGHT * vectors[1])[None, :])[0]
    scores = []
    for b in behaviors:
        matrix = cache[(b.set_id, b.version)]
        cache.move_to_end((b.set_id, b.version))
        scores.append((b, float(np.max(matrix @ query))))
    scores.sort(key=lambda item: -item[1])
    return Selection(scores=scores, embedded=True)


_SUBJECT = re.compile(r"^(?:when\s+|if\s+)?(?:the\s+)?(?:user|caller|patient|customer|member|client)\s+", re.I)


def _variants(triggers: list[str]) -> list[str]:
    """Each trigger as written, without its "The user" subject, and in the first person."""
    out: list[str] = []
    for t in triggers:
        bare = _SUBJECT.sub("", t.strip()).rstrip(".")
        out += [t, bare, f"I {bare}"] if bare and bare != t.strip().rstrip(".") else [t]
    return out


SAFETY_NOTE = (
    "Safety comes first: if a behavior is about suicide, self-harm, a medical emergency or someone in danger, choose it "
    "whenever the user's words could reasonably mean that situation; missing one is far worse than a false alarm. "
    "Otherwise choose a behavior only when the user's words really are that situation: figures of speech (\"my boss "
    "will murder me\"), other people's past events and topics merely mentioned in passing are \"none\"."
)


def candidates_for(ctx: TurnContext, ranked: Selection) -> tuple[list[BehaviorVersion], BehaviorVersion | None]:
    previous_key = tuple(ctx.request.previous_behavior or ())
    candidates = [b for b, _ in ranked.scores[:CONTRAST_TOP_K if ctx.ports.reasoning == "contrast" else TOP_K]]
    previous = next((b for b, s in ranked.scores if (b.set_id, b.version) == previous_key and s >= KEEP_THRESHOLD), None)
    if previous is not None and previous not in candidates:
        candidates.append(previous)
    return candidates, previous


async def select(ctx: TurnContext, ranked: Selection) -> BehaviorVersion | None:
    """The LLM confirmation among the best-ranked candidates (skipped only to keep a clearly leading previous one)."""
    candidates, previous = candidates_for(ctx, ranked)
    if not candidates:
        return None
    if previous is not None and ranked.scores[0][0] is previous:
        runner_up = ranked.scores[1][1] if len(ranked.scores) > 1 else -1.0
        if ranked.scores[0][1] - runner_up >= KEEP_MARGIN:
            return previous
    if ctx.ports.reasoning in ("checklist", "checks", "contrast"):
        return await _check_each(ctx, candidates, previous)
    brief = ctx.ports.reasoning != "none"  # brief
    names = _unique([_name(b) for b in candidates] if brief else [f"behavior {i + 1}" for i in range(len(candidates))])
    head = [
        "Decide which dynamic behavior, if any, applies to the conversation right now. Each behavior is named by the "
        "situation in which it applies. Do not write a reply to the user.",
        "## Behaviors (best matches first)",
    ]
    for name, b in zip(names, candidates, strict=True):
        others = [t for t in b.conversation_triggers if not brief or " ".join(str(t).split()).rstrip(".") != name]
        label = f'"{name}"' if brief else f"{name}: {others.pop(0)}" if others else name
        head.append(f"- {label}" + (" (currently active)" if b is previous else "")
                    + (f" (also: {'; '.join(others)})" if others else ""))
    head += bullet("What you know about the user", list(ctx.request.user_model))
    tail = [SAFETY_NOTE, ""]
    properties: dict[str, Any] = {}
    if brief:
        tail += [f"## What the user just said\n{latest_input(ctx.request) or '(nothing yet)'}", "",
                 'Answer in JSON: "user_just_said": what the user just said, in a few plain words; then "behavior": the '
                 'behavior that applies, copied exactly, or "none".']
        properties["user_just_said"] = {"type": "string", "maxLength": 160}
    else:
        tail += ['Answer with the behavior\'s label, such as "behavior 1", or "none".']
    properties["behavior"] = {"type": "string", "enum": [NONE_OPTION, *names]}
    schema = {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
    messages = framed_decision_messages(ctx.request.agent, head, ctx.request.transcript, tail)
    raw = await ctx.llm.decide(ctx.llm.request("SelectDynamicBehavior", messages), schema, "select_dynamic_behavior")
    choice = str(raw.get("behavior", NONE_OPTION)).strip().strip('"').lower()
    for i, (name, b) in enumerate(zip(names, candidates, strict=True)):
        if choice in (name.lower(), b.set_id, f"behavior {i + 1}"):
            return b
    return None


CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"applies": {"type": "string", "enum": ["no", "yes"]}},
    "required": ["applies"],
    "additionalProperties": False,
}


async def _check_each(ctx: TurnContext, candidates: list[BehaviorVersion],
                      previous: BehaviorVersion | None) -> BehaviorVersion | None:
    """Small models: each candidate judged in its own request, all at once (one sees only its own situation, so the
    order of the others cannot sway it); the best-ranked "yes" applies."""
    said = latest_input(ctx.request) or "(nothing yet)"
    head = ["Decide whether one situation applies to the conversation right now. Do not write a reply to the user."]
    head += bullet("What you know about the user", list(ctx.request.user_model))

    def tail(b: BehaviorVersion) -> list[str]:
        triggers = [" ".join(str(t).split()) for t in b.conversation_triggers]
        return [SAFETY_NOTE.replace("choose it", "answer yes").replace("choose a behavior", "answer yes"), "",
                "## The situation", triggers[0] + (" (currently in effect)" if b is previous else ""),
                *([f"(also: {'; '.join(triggers[1:])})"] if triggers[1:] else []), "",
                f"## What the user just said\n{said}", "",
                'Does this situation apply to what the user just said? Answer in JSON: "applies": "yes" or "no".']

    if ctx.ports.reasoning == "contrast":
        return await _contrast_each(ctx, candidates, head, said)

    async def ask(b: BehaviorVersion) -> bool:
        messages = framed_decision_messages(ctx.request.agent, head, ctx.request.transcript, tail(b))
        raw = await ctx.llm.decide(ctx.llm.request("SelectDynamicBehavior", messages), CHECK_SCHEMA,
                                   "check_dynamic_behavior")
        return str(raw.get("applies", "no") if isinstance(raw, dict) else raw).strip().lower() == "yes"

    answers = await gather_all([ask(b) for b in candidates])
    return next((b for b, yes in zip(candidates, answers, strict=True) if yes), None)


NOT_NOW = ("Not that situation: the user only asks, thanks or chats about something ordinary, mentions the topic, "
           "a past event or someone else, or uses a figure of speech.")
SITUATION_KEY = "what_the_user_did"


async def _contrast_each(ctx: TurnContext, candidates: list[BehaviorVersion], head: list[str],
                         said: str) -> BehaviorVersion | None:
    """The contrast depth: each candidate judged in its own request, all at once, as a pick between two descriptions
    of what the user just said: a near miss (``NOT_NOW``, listed first: scripted fakes answer a schema's first value)
    or the behavior's situation. A 1.5B model asked yes/no said yes to the medical emergency on "Where do I park?"."""
    def tail(b: BehaviorVersion) -> tuple[list[str], list[str]]:
        triggers = [" ".join(str(t).split()).rstrip(".") for t in b.conversation_triggers]
        situation = triggers[0] + (f" (or: {'; '.join(triggers[1:])})" if triggers[1:] else "")
        if situation.lower() == NOT_NOW.lower():
            situation += " (behavior)"
        choices = [NOT_NOW, situation]
        lines = [SAFETY_NOTE.replace("choose it", "choose that situation").replace(
                     "choose a behavior", "choose the situation"), "",
                 f"## What the user just said\n{said}", "",
                 *bullet("Which of these describes what the user just said?", choices), "",
                 f'Answer in JSON: "{SITUATION_KEY}": the one that describes what the user just said, copied exactly.']
        return lines, choices

    async def ask(b: BehaviorVersion) -> bool:
        lines, choices = tail(b)
        messages = framed_decision_messages(ctx.request.agent, head, ctx.request.transcript, lines)
        schema = {"type": "object", "properties": {SITUATION_KEY: {"type": "string", "enum": choices}},
                  "required": [SITUATION_KEY], "additionalProperties": False}
        raw = await ctx.llm.decide(ctx.llm.request("SelectDynamicBehavior", messages), schema,
                                   "check_dynamic_behavior")
        if isinstance(raw, dict) and "applies" in raw:
            return str(raw.get("applies")).strip().lower() == "yes"
        answer = str(raw.get(SITUATION_KEY, "") if isinstance(raw, dict) else raw).strip().strip('"').rstrip(".")
        return answer.lower() == choices[1].rstrip(".").lower()

    answers = await gather_all([ask(b) for b in candidates])
    return next((b for b, yes in zip(candidates, answers, strict=True) if yes), None)


def _name(b: BehaviorVersion) -> str:
    """A behavior as the LLM names it: its first trigger (the set's own words), bounded."""
    text = " ".join(str(b.conversation_triggers[0]).split()).rstrip(".")
    return text[:120] if text.lower() != NONE_OPTION else f"{text} (behavior)"


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n.lower()] = seen.get(n.lower(), 0) + 1
        out.append(n if seen[n.lower()] == 1 else f"{n} ({seen[n.lower()]})")
    return out


async def select_behavior(ctx: TurnContext) -> Selection:
    ranked = await rank(ctx)
    ranked.selected = await select(ctx, ranked) if ranked.scores else None
    return ranked


def speculated_behavior(ctx: TurnContext) -> BehaviorVersion | None:
    """The behavior assumed while DBS runs concurrently with navigation: the previous one, if still applied."""
    prev = ctx.request.previous_behavior
    if not prev:
        return None
    return next((b for b in ctx.request.behaviors if (b.set_id, b.version) == tuple(prev)), None)
