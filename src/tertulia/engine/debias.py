"""A pick that the options' order cannot decide: the same constrained choice asked in two orders at once, each answer
read with its token log-probabilities, and the option the model prefers on average across the orders taken.

Why: on a decision state with two exits (the clinic's triage: "The symptoms could be life-threatening." / "...are not
urgent ..."), Qwen2.5-Coder-1.5B picked largely by position: 10 of 12 triage messages right in one order and 7 of
12 with the same two exits swapped. Reading P(option) where the options' texts part ways, in both orders, and averaging
the two log-probabilities put all 12 right (``benchmarks/README.md``, "Decision quality"). This is permutation
averaging, the standard remedy for a language model's option-order bias.

``option_logprobs`` is pure: the generated tokens (with each token's top alternatives) and the options as the schema
enumerates them. The log-probability of an option is that of the generated path up to the token where the option
leaves it, plus the alternatives' mass consistent with the option at that token (the rest of its text is forced by
the grammar once it is chosen). An option whose first diverging token is not among the alternatives gets a floor
below the least likely listed alternative. Without log-probabilities (a provider that gives none) the two answers
still vote: agreeing answers stand, and on disagreement the first order's pick is kept (the one-request behaviour).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable, Sequence

Tokens = Sequence[tuple[bytes, float, Sequence[tuple[bytes, float]]]]
BELOW_LISTED = 2.0  # an option absent from the top alternatives: this far (in nats) below the least listed one
TOP_LOGPROBS = 5  # alternatives asked per token: the two to four options of a pick part ways within them


def option_logprobs(tokens: Tokens | None, key: str, options: Sequence[str]) -> list[float] | None:
    """log P(option) for each of ``options`` as the value of ``key`` in the generated JSON; None without tokens (a
    provider that gave none) or when the value or a token of it cannot be followed (another key, an option spelled
    differently). Tokens are compared as UTF-8 bytes: a token may end inside a character ("é" split in two), which no
    string comparison could follow."""
    if not tokens:
        return None
    text = b"".join(t for t, _, _ in tokens)
    found = re.search(rb'"%s"\s*:\s*"' % re.escape(key.encode()), text)
    if not found:
        return None
    start = found.end()
    # the closing quote ends each option, so an option that is another's prefix still parts from it
    encoded = [(json.dumps(o, ensure_ascii=False)[1:-1] + '"').encode() for o in options]
    scores: dict[int, float] = {}
    alive = set(range(len(options)))
    path, end = 0.0, 0
    for token, own, alternatives in tokens:
        begin, end = end, end + len(token)
        if end <= start:
            continue
        lead, consumed = (text[begin:start], b"") if begin < start else (b"", text[start:begin])
        rest = {i: lead + encoded[i][len(consumed):] for i in alive if encoded[i].startswith(consumed)}
        if len(rest) <= 1:
            alive = set(rest)
            break
        taken = {i for i, r in rest.items() if _fits(r, token)}
        if not taken:
            return None
        if len(taken) < len(rest):  # options part ways here
            listed = list(alternatives) or [(token, own)]
            floor = min(lp for _, lp in listed) - BELOW_LISTED
            for i in set(rest) - taken:
                mass = sum(math.exp(lp) for alt, lp in listed if _fits(rest[i], alt))
                scores[i] = path + (math.log(mass) if mass > 0 else floor)
        path += own
        alive = taken
    for i in alive:
        scores[i] = path
    return [scores[i] for i in range(len(options))] if len(scores) == len(options) else None


def _fits(remainder: bytes, token: bytes) -> bool:
    return bool(token) and (remainder.startswith(token) or token.startswith(remainder))


Ask = Callable[[list[int]], Awaitable[tuple[int | None, list[float] | None]]]


async def pick_in_both_orders(ask: Ask, order: list[int]) -> int | None:
    """The option (an index into the caller's options) picked with ``order`` and with it reversed, asked at once:
    ``ask(listing)`` lists the options in that order and returns (its pick, per-listed-option log-probabilities or
    None). The larger mean log-probability wins; without log-probabilities, the first order's pick."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(ask(listing)) for listing in (order, order[::-1])]
    answers = [t.result() for t in tasks]
    totals: dict[int, float] = {}
    for listing, (_, scores) in zip((order, order[::-1]), answers, strict=True):
        if scores is None:
            return answers[0][0] if answers[0][0] is not None else answers[1][0]
        for option, score in zip(listing, scores, strict=True):
            totals[option] = totals.get(option, 0.0) + score
    first = answers[0][0]
    return max(order, key=lambda j: (totals[j], j == first))  # a tie goes to the first order's pick
