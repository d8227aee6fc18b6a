"""Engine turn benchmark: turns against a zero-latency OpenAI-compatible stub server (a subprocess on 127.0.0.1), so
what is measured is the platform's own overhead per turn (prompt building, routing, HTTP client, JSON, events).

    python benchmarks/engine_turns.py [--turns 200] [--behaviors 5] [--concurrency 1] [--embedder fake|local]

``--embedder local`` ranks behaviors with the packaged MiniLM (int8 ONNX, the ``embeddings`` extra) instead of the
hashing fake, so the figure includes the real per-turn embedding cost (trigger embeddings are cached).

Prints p50/p99 ms per turn, LLM calls per turn and turns/s. Bounded: a fixed number of turns, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tertulia.engine.adapters.openai_compat import OpenAICompatLLM  # noqa: E402
from tertulia.engine.contract import BehaviorVersion, TurnOutcome  # noqa: E402
from tertulia.engine.fakes import FakeEmbedder  # noqa: E402
from tertulia.engine.turn import run_turn  # noqa: E402
from tests.engine.openai_stub import start_stub_process  # noqa: E402
from tests.engine.support import ports, request, simple_graph  # noqa: E402


async def one_turn(p, behaviors, i: int) -> tuple[float, int]:
    texts = ["Tell me about sleep", "What should I eat?", "I feel stressed at work", "Thanks, that helps"]
    req = request(simple_graph(), texts[i % len(texts)], state="ask", behaviors=behaviors,
                  history=[("agent-message", "How did you sleep?"), ("user-message", "Badly, again.")] * 5)
    started = time.perf_counter()
    calls = 0
    async for event in run_turn(req, p):
        if isinstance(event, TurnOutcome):
            calls = event.llm_calls
    return (time.perf_counter() - started) * 1000, calls


async def main(turns: int, n_behaviors: int, concurrency: int, embedder_name: str) -> None:
    proc, root = start_stub_process(timeout=20)
    try:
        llm = OpenAICompatLLM(f"{root}/v1", "k", default_model="stub", max_retries=0)
        behaviors = [BehaviorVersion(f"{i:024x}", 1, [f"topic {i} trigger phrase", f"another way to say topic {i}"],
                                     [{"type": "inject-instruction", "instruction": f"Rule {i}",
                                       "overrides_instructions": False}]) for i in range(n_behaviors)]
        embedder = FakeEmbedder()
        if embedder_name == "local":
            from tertulia.engine.adapters.local_embeddings import load_local_embedder

            embedder = load_local_embedder()
            if embedder is None:
                raise SystemExit("--embedder local needs the 'embeddings' extra: pip install -e '.[embeddings]'")
        p = ports(llm, embedder=embedder)
        for i in range(10):  # warm-up: connections, caches
            await one_turn(p, behaviors, i)
        sem = asyncio.Semaphore(concurrency)
        results: list[tuple[float, int]] = []

        async def guarded(i: int) -> None:
            async with sem:
                results.append(await one_turn(p, behaviors, i))

        started = time.perf_counter()
        await asyncio.gather(*(guarded(i) for i in range(turns)))
        wall = time.perf_counter() - started
        latencies = sorted(ms for ms, _ in results)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"turns={turns} behaviors={n_behaviors} concurrency={concurrency} embedder={embedder_name}")
        print(f"platform overhead per turn: p50={statistics.median(latencies):.2f} ms  p99={p99:.2f} ms")
        print(f"LLM calls per turn: {statistics.mean(c for _, c in results):.2f}")
        print(f"throughput: {turns / wall:.1f} turns/s")
        await llm.aclose()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--behaviors", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--embedder", choices=["fake", "local"], default="fake")
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.behaviors, args.concurrency, args.embedder))
