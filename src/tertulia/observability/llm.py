"""The LLM port, observed: every call (turns, post-processing, metric judging, suggestions) gets an OpenTelemetry
span following the GenAI semantic conventions, Prometheus call/token/latency/error figures, and — inside a turn that
captures prompt logs — a prompt-log record.

Span: ``chat {model}``, kind CLIENT, with ``gen_ai.operation.name=chat``, ``gen_ai.provider.name`` (and the older
``gen_ai.system``), ``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.request.max_tokens`` /
``temperature`` / ``top_p`` when set, ``gen_ai.output.type`` (``json`` for decisions, ``text`` for replies),
``gen_ai.usage.input_tokens`` / ``output_tokens`` (as the adapter reports them), ``gen_ai.server.time_to_first_token``
(streamed calls, seconds) and ``tertulia.llm.interaction`` (SelectNextAction, EngageUser, ...). Failures set
``error.type`` and the span status. No prompt or output text goes on spans.

The wrapper is transparent: attribute reads and writes it does not own go to the wrapped adapter (tests script the
fake through it). Streamed spans are started and ended explicitly (never made current across a ``yield``); their
parent is the context current at the first fragment request (the engine activates its step span around it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from tertulia.observability import metrics

tracer = trace.get_tracer("tertulia.llm")

PROVIDERS = {
    "OpenAICompatLLM": "openai",
    "LlamaLocalLLM": "llama_cpp",
    "ScriptedLLM": "fake",
    "UnconfiguredLLM": "none",
}


class InstrumentedLLM:
    _OWN = frozenset({"inner", "provider"})

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "inner", inner)
        object.__setattr__(self, "provider", PROVIDERS.get(type(inner).__name__, type(inner).__name__.lower()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.inner, name, value)

    def model_name(self, request: Any) -> str:
        resolve = getattr(self.inner, "model_for", None)
        try:
            return str(resolve(request.model)) if resolve else str(request.model or "default")
        except Exception:  # noqa: BLE001 - naming must never break a call
            return str(request.model or "default")

    def _start(self, request: Any, model: str, output_type: str) -> Any:
        params = request.params or {}
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": self.provider,
            "gen_ai.system": self.provider,
            "gen_ai.request.model": model,
            "gen_ai.output.type": output_type,
            "tertulia.llm.interaction": request.interaction,
        }
        max_tokens = request.max_tokens or params.get("max_tokens")
        if max_tokens:
            attributes["gen_ai.request.max_tokens"] = int(max_tokens)
        for key in ("temperature", "top_p"):
            if isinstance(params.get(key), int | float):
                attributes[f"gen_ai.request.{key}"] = float(params[key])
        return tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes)

    def _finish(self, span: Any, request: Any, model: str, started: float, outcome: str, output: str | None,
                error: BaseException | None = None, first_token: float | None = None) -> None:
        info = request.response
        elapsed = time.perf_counter() - started
        interaction = request.interaction
        if info.input_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", int(info.input_tokens))
            metrics.labelled(metrics.LLM_TOKENS, interaction, model, "input").inc(int(info.input_tokens))
        if info.output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", int(info.output_tokens))
            metrics.labelled(metrics.LLM_TOKENS, interaction, model, "output").inc(int(info.output_tokens))
        if info.model:
            span.set_attribute("gen_ai.response.model", info.model)
        if first_token is not None:
            span.set_attribute("gen_ai.server.time_to_first_token", first_token)
            metrics.labelled(metrics.LLM_FIRST_TOKEN, interaction, model).observe(first_token)
        metrics.labelled(metrics.LLM_CALLS, interaction, model, outcome).inc()
        metrics.labelled(metrics.LLM_DURATION, interaction, model).observe(elapsed)
        if outcome == "error":
            kind = "timeout" if _is_timeout(error) else "error"
            metrics.labelled(metrics.LLM_ERRORS, interaction, model, kind).inc()
            span.set_attribute("error.type", "timeout" if kind == "timeout" else type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        elif outcome == "cancelled":
            span.set_attribute("tertulia.llm.cancelled", True)
        span.end()
        from tertulia.observability.prompt_capture import capture

        capture(request, model, output if output is not None else info.raw_text, elapsed, outcome, error)

    def record_timeout(self, request: Any) -> None:
        """The engine's own deadline fired (the call saw only a cancellation)."""
        metrics.labelled(metrics.LLM_ERRORS, request.interaction, self.model_name(request), "timeout").inc()

    async def decide(self, request: Any, schema: dict[str, Any], schema_name: str) -> dict[str, Any]:
        model = self.model_name(request)
        span = self._start(request, model, "json")
        started = time.perf_counter()
        try:
            with trace.use_span(span, end_on_exit=False):
                result = await self.inner.decide(request, schema, schema_name)
        except asyncio.CancelledError:
            self._finish(span, request, model, started, "cancelled", None)
            raise
        except BaseException as exc:
            self._finish(span, request, model, started, "error", None, exc)
            raise
        self._finish(span, request, model, started, "ok", None)
        return result

    async def stream_text(self, request: Any) -> AsyncIterator[str]:
        model = self.model_name(request)
        span = self._start(request, model, "text")
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        outcome, error = "cancelled", None
        try:
            iterator = self.inner.stream_text(request)
            if asyncio.iscoroutine(iterator):
                iterator = await iterator
            async for piece in iterator:
                if first is None:
                    first = time.perf_counter() - started
                parts.append(piece)
                yield piece
            outcome = "ok"
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except BaseException as exc:
            outcome, error = "error", exc
            raise
        finally:
            self._finish(span, request, model, started, outcome, "".join(parts), error, first)

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


def _is_timeout(error: BaseException | None) -> bool:
    if isinstance(error, TimeoutError):
        return True
    return getattr(error, "http_error_code", None) == 504


def instrument_llm(llm: Any) -> Any:
    if llm is None or isinstance(llm, InstrumentedLLM):
        return llm
    return InstrumentedLLM(llm)
