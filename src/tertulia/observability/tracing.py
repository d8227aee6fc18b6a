"""OpenTelemetry tracing: the SDK with an OTLP exporter, plus FastAPI (HTTP server spans) and SQLAlchemy (database
spans) instrumentation.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set or
``TERTULIA_OTEL_ENABLED=true``; ``OTEL_SDK_DISABLED=true`` wins over both. The standard variables are read by the SDK
itself: ``OTEL_SERVICE_NAME`` (default ``tertulia``), ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER`` /
``OTEL_TRACES_SAMPLER_ARG``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_*`` (batching). The exporter speaks OTLP over
HTTP/protobuf (a collector's port 4318).

Off, every span the code makes is OpenTelemetry's no-op span and the app and engines are not instrumented at all.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry import trace

log = logging.getLogger("tertulia.observability")

EXCLUDED_URLS = "/healthz,/readyz,/metrics"
_configured = False


def setup_tracing(settings: Any = None) -> bool:
    """Install the SDK tracer provider with the OTLP exporter when tracing is enabled (once per process)."""
    global _configured
    if _configured or sdk_active():
        return True
    from tertulia.observability.settings import ObservabilitySettings

    settings = settings or ObservabilitySettings()
    if not settings.tracing_enabled():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from tertulia import __version__

    attributes = {"service.version": __version__}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "tertulia"
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    return True


def sdk_active() -> bool:
    """True when a real (SDK) tracer provider is installed: ours, or one a test or an embedding app installed."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:  # pragma: no cover
        return False
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def instrument_app(app: Any) -> bool:
    """HTTP server spans for every request (health and metrics scrapes excluded). Only when tracing is active."""
    if not sdk_active() or getattr(app.state, "otel_instrumented", False):
        return False
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"])
    app.state.otel_instrumented = True
    return True


def instrument_engine(engine: Any) -> bool:
    """Database spans for one SQLAlchemy (async) engine. Per engine, so every runtime of a process gets its own."""
    sync_engine = getattr(engine, "sync_engine", engine)
    if not sdk_active() or getattr(sync_engine, "_tertulia_traced", False):
        return False
    from opentelemetry.instrumentation.sqlalchemy import __version__ as version
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    meter = get_meter("opentelemetry.instrumentation.sqlalchemy", version)
    usage = meter.create_up_down_counter("db.client.connections.usage", unit="connections")
    EngineTracer(trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", version), sync_engine, usage)
    sync_engine._tertulia_traced = True
    return True


def inject(carrier: dict[str, str] | None = None) -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``...), empty outside a recording span."""
    from opentelemetry import propagate

    carrier = {} if carrier is None else carrier
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return carrier


def linked_context(carrier: dict[str, Any] | None) -> trace.SpanContext | None:
    """The span context a stored carrier describes (for a span link), or None."""
    if not carrier:
        return None
    from opentelemetry import propagate

    span_context = trace.get_current_span(propagate.extract(dict(carrier))).get_span_context()
    return span_context if span_context.is_valid else None
