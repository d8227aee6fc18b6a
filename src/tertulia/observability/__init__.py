"""Observability: OpenTelemetry traces, Prometheus metrics, structured logs, health probes and prompt logs.

* ``settings``  — what is on (``TERTULIA_OTEL_ENABLED``, ``TERTULIA_LOG_FORMAT``, ``TERTULIA_PROMPT_LOG_RETENTION_DAYS``)
* ``context``   — request / organization / conversation / interaction ids carried in contextvars
* ``logs``      — human-readable or JSON log lines with those ids and the current trace id
* ``tracing``   — the OTel SDK (OTLP exporter, standard ``OTEL_*`` variables), FastAPI and SQLAlchemy instrumentation
* ``metrics``   — Prometheus metrics (multi-process safe) and the ``/metrics`` exposition
* ``http``      — the ASGI middleware (request ids, per-operation response counts) and ``/metrics``, ``/readyz``
* ``llm``       — the LLM port wrapper: GenAI spans, call/token/error metrics, prompt-log capture
* ``summary``   — the one start-up line that says what this process runs on

The engine stays pure: it uses only ``opentelemetry-api`` (no-op until the SDK is configured here).
"""
