"""The two llama.cpp runtimes the embedded provider can run on (see ``llama_local.py`` for the adapter itself).

* ``xllamacpp`` (default, the ``local`` extra): llama.cpp's own C++ server engine in a prebuilt manylinux2014 wheel
  (glibc ≥ 2.17, 33 MB, installs in seconds, no compiler). Its Linux CPU wheel is built for AVX2 without
  ``-march=native``: no AVX-512 and no AMX kernels, so it cannot hit the AMX crash a native llama.cpp build has on
  some CPUs (it does need AVX2). JSON schemas are compiled natively by llama.cpp (LLGuidance): enum values with
  quotes or backslashes, ``minimum``/``maximum``, ``anyOf`` all work, and a schema it cannot take is a Python
  ``ValueError``, never a process abort. Prompt prefixes are cached between calls (``cache_prompt``).
  It also opens llama.cpp's HTTP listener on a random loopback port; we give that listener a random API key that
  nobody knows, so only this process (which calls the engine directly, not over HTTP) can use the model.
* ``llama-cpp-python`` (optional, compiled at install): ``pip install 'llama-cpp-python>=0.3,<0.4'`` with
  ``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"`` (the flags avoid the native build's
  AMX kernel). Chosen when ``TERTULIA_LOCAL_RUNTIME=llama-cpp-python`` or when it is the only one installed.

Evaluated and not used: ``llama-cpp-py-sync`` — its wheels are tagged manylinux2014 but every release needs glibc
2.38 (``__isoc23_strtol``), so they fail to load on Debian 12, Ubuntu 22.04 or RHEL 9.

A runtime is synchronous and called from a worker thread: ``complete(kwargs) -> (text, usage)`` and
``stream(kwargs, emit, stopped) -> usage`` which calls ``emit(text)`` per piece until done or ``stopped()``.
"""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Callable
from typing import Any

RUNTIMES = ("xllamacpp", "llama-cpp-python")
_MODULES = {"xllamacpp": "xllamacpp", "llama-cpp-python": "llama_cpp"}


def installed_runtimes() -> list[str]:
    return [name for name in RUNTIMES if importlib.util.find_spec(_MODULES[name]) is not None]


def choose_runtime(requested: str | None) -> str:
    """``auto`` (or unset) → the first installed of xllamacpp, llama-cpp-python; else exactly the one asked for."""
    name = (requested or "auto").strip().lower()
    installed = installed_runtimes()
    if name == "auto":
        if not installed:
            raise RuntimeError("No llama.cpp runtime is installed: pip install 'tertulia[local]' (xllamacpp wheel).")
        return installed[0]
    if name not in RUNTIMES:
        raise RuntimeError(f"Unknown TERTULIA_LOCAL_RUNTIME {requested!r} (auto | {' | '.join(RUNTIMES)}).")
    if name not in installed:
        raise RuntimeError(f"TERTULIA_LOCAL_RUNTIME={name} but the {_MODULES[name]!r} module is not installed.")
    return name


def load_runtime(name: str, model_path: str, n_ctx: int, n_threads: int) -> Any:
    if name == "xllamacpp":
        return XllamacppRuntime(model_path, n_ctx, n_threads)
    return LlamaCppPythonRuntime(model_path, n_ctx, n_threads)


class XllamacppRuntime:
    name = "xllamacpp"

    def __init__(self, model_path: str, n_ctx: int, n_threads: int) -> None:
        import xllamacpp as xlc

        params = xlc.CommonParams()
        params.model.path = model_path
        params.n_ctx = n_ctx
        params.n_parallel = 1  # one slot: calls are serialised anyway, and the slot keeps the cached prompt prefix
        params.cpuparams.n_threads = n_threads
        params.cpuparams_batch.n_threads = n_threads
        params.warmup = False
        params.verbosity = -1  # llama.cpp's own log lines would carry prompt text
        params.api_keys = [secrets.token_urlsafe(32)]  # the loopback listener answers 401 to everyone else
        params.ui = False
        params.endpoint_slots = False
        params.endpoint_metrics = False
        params.cors_origins = ""
        params.n_threads_http = 1
        self._server = xlc.Server(params)

    @staticmethod
    def _body(kwargs: dict[str, Any], stream: bool) -> dict[str, Any]:
        body = dict(kwargs)
        if "response_format" in body:  # {"type": "json_object", "schema": ...} → llama.cpp's native json_schema
            body["json_schema"] = body.pop("response_format").get("schema") or {"type": "object"}
        body["stream"] = stream
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def complete(self, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        result = self._server.handle_chat_completions(self._body(kwargs, False))
        if "error" in result:
            raise RuntimeError(result["error"].get("message") or str(result["error"]))
        return result["choices"][0]["message"].get("content") or "", result.get("usage") or {}

    def stream(self, kwargs: dict[str, Any], emit: Callable[[str], None],
               stopped: Callable[[], bool]) -> dict[str, Any]:
        failure: list[str] = []
        usage: dict[str, Any] = {}

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if "error" in chunk:
                failure.append(chunk["error"].get("message") or str(chunk["error"]))
                return True
            usage.update(chunk.get("usage") or {})
            for choice in chunk.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    emit(text)
            return stopped()  # True stops generation

        result = self._server.handle_chat_completions(self._body(kwargs, True), on_chunk)
        if isinstance(result, dict) and "error" in result:
            failure.append(result["error"].get("message") or str(result["error"]))
        if failure:
            raise RuntimeError(failure[0])
        return usage


class LlamaCppPythonRuntime:
    name = "llama-cpp-python"

    def __init__(self, model_path: str, n_ctx: int, n_threads: int) -> None:
        from llama_cpp import Llama

        self._llama = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)

    def complete(self, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        result = self._llama.create_chat_completion(**kwargs)
        return result["choices"][0]["message"].get("content") or "", result.get("usage") or {}

    def stream(self, kwargs: dict[str, Any], emit: Callable[[str], None],
               stopped: Callable[[], bool]) -> dict[str, Any]:
        for chunk in self._llama.create_chat_completion(stream=True, **kwargs):
            if stopped():
                break
            text = chunk["choices"][0].get("delta", {}).get("content")
            if text:
                emit(text)
        return {}  # llama-cpp-python streams no usage
