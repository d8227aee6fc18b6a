"""A job attempt, observed: a CONSUMER span ``job {kind}`` linked to the span of the request that queued it (the
``trace_context`` stored on the job row), the job's ids bound to the log context, and the attempt counted and timed
by kind and outcome."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tertulia.observability import context, metrics
from tertulia.observability.tracing import linked_context

tracer = trace.get_tracer("tertulia.jobs")


@dataclass
class Observed:
    span: Any
    outcome: str = "cancelled"

    def failed(self, exc: BaseException, outcome: str) -> None:
        self.outcome = outcome
        self.span.set_attribute("error.type", type(exc).__name__)  # not the text: it may quote user content
        self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


@contextmanager
def job_observed(job: Any) -> Iterator[Observed]:
    parent = linked_context(getattr(job, "trace_context", None))
    payload = job.payload if isinstance(job.payload, dict) else {}
    ids = {"job_id": job.id, "org_id": job.org_id, "conversation_id": payload.get("conversation_id")}
    attributes = {
        "tertulia.job.kind": job.kind,
        "tertulia.job.id": job.id,
        "tertulia.job.attempt": int(job.attempts or 0),
        "messaging.operation.type": "process",
    }
    started = time.perf_counter()
    with tracer.start_as_current_span(
        f"job {job.kind}", kind=SpanKind.CONSUMER, attributes=attributes, links=[Link(parent)] if parent else None,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        observed = Observed(span)
        with context.bound(**{k: v for k, v in ids.items() if isinstance(v, str)}):
            try:
                yield observed
            finally:
                span.set_attribute("tertulia.job.outcome", observed.outcome)
                metrics.JOBS.labels(job.kind, observed.outcome).inc()
                metrics.JOB_DURATION.labels(job.kind).observe(time.perf_counter() - started)
