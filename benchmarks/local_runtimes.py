"""Embedded-model benchmark: the same SmolLM2 calls on each installed llama.cpp runtime, side by side.

    python benchmarks/local_runtimes.py [--threads 1] [--repeat 3]

For each runtime (xllamacpp wheel; a compiled llama-cpp-python when installed): model load, a short streamed reply
(time to first piece and total), a constrained decision, and a ~1,200-token prompt sent twice with the same prefix
(the second call shows prompt-prefix reuse). Greedy decoding, so both runtimes should print the same reply text.
Median of ``--repeat`` runs per figure; the machine's load matters a lot on 2 vCPU (see llama_local.py on threads).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from tertulia.engine.adapters.llama_local import LlamaLocalLLM, default_model_path
from tertulia.engine.adapters.llama_runtimes import installed_runtimes
from tertulia.engine.ports import ChatMessage, LLMRequest

PERSONA = ChatMessage("system", "You are Nia, a friendly planning companion. Keep replies short.")
ASK = ChatMessage("user", "Hi! I want to read more books this week. Can you help?")
SCHEMA = {"type": "object", "properties": {"next": {"type": "string", "enum": ["clarify", "goodbye", "stay"]}},
          "required": ["next"], "additionalProperties": False}
DECIDE = [ChatMessage("system", "Pick the next state. clarify: the user mentioned something they want to do. "
                                "goodbye: the user does not want to plan. stay: neither."),
          ChatMessage("user", "User said: I want to read more books this week.")]
LONG = ChatMessage("system", "You are a helpful assistant. " + "Background facts about planning small weekly goals. " * 150)


async def measure(runtime: str, threads: int, repeat: int) -> dict[str, float | str]:
    llm = LlamaLocalLLM(default_model_path(), n_ctx=4096, n_threads=threads, default_max_tokens=48, runtime=runtime)
    t = time.perf_counter()
    await asyncio.to_thread(llm._model)
    figures: dict[str, list[float]] = {"load_s": [time.perf_counter() - t]}
    text = ""
    for _ in range(repeat):
        t = time.perf_counter()
        first = None
        pieces = []
        async for piece in llm.stream_text(LLMRequest("EngageUser", [PERSONA, ASK], params={"temperature": 0.0})):
            first = first or time.perf_counter() - t
            pieces.append(piece)
        figures.setdefault("reply_first_piece_s", []).append(first or 0.0)
        figures.setdefault("reply_48_tokens_s", []).append(time.perf_counter() - t)
        text = "".join(pieces)
        t = time.perf_counter()
        await llm.decide(LLMRequest("SelectNextAction", DECIDE), SCHEMA, "next")
        figures.setdefault("decision_s", []).append(time.perf_counter() - t)
        for key, question in (("long_prompt_s", "Say hello."), ("long_prompt_same_prefix_s", "Say goodbye.")):
            t = time.perf_counter()
            async for _ in llm.stream_text(LLMRequest("EngageUser", [LONG, ChatMessage("user", question)],
                                                      max_tokens=8, params={"temperature": 0.0})):
                pass
            figures.setdefault(key, []).append(time.perf_counter() - t)
    return {**{k: round(statistics.median(v), 2) for k, v in figures.items()}, "reply": text[:70]}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for runtime in installed_runtimes():
        print(runtime, await measure(runtime, args.threads, args.repeat), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
