"""Prometheus metrics (``prometheus-client``), safe with several API processes.

Multi-process: with ``PROMETHEUS_MULTIPROC_DIR`` set (``tertulia serve --workers N`` sets and empties one under the
data dir when the operator has not), counters and histograms are kept in per-process files and every scrape of any
process reports the sum over all of them. The queue, lease and age figures are not per-process state at all: they are
read from the database at scrape time (``collect_database``), so every process reports the same cluster-wide truth.

The variable must be set before this module is first imported (prometheus-client picks its storage at import).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}


def labelled(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, remembered: prometheus-client checks, converts and locks on every ``labels`` call
    (a turn makes about fifteen). The children are the metric's own, kept for the process's life either way, so
    this holds nothing more than the metric does (metrics here are never cleared)."""
    key = (id(metric), values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_RESPONSES = Counter(
    "tertulia_http_responses", "HTTP responses by operation and status (409 conflicts and 429 rate limits included).",
    ["operation", "method", "status"],
)
HTTP_DURATION = Histogram(
    "tertulia_http_request_duration_seconds", "Time to the end of the response body, by operation.", ["operation"],
    buckets=FAST_BUCKETS,
)
TURNS = Counter("tertulia_turns", "Agent turns by service and outcome (ok | error | cancelled).", ["service", "outcome"])
TURN_DURATION = Histogram(
    "tertulia_turn_duration_seconds", "Whole turn, request to last event, by service.", ["service"],
    buckets=LATENCY_BUCKETS,
)
TURN_FIRST_EVENT = Histogram(
    "tertulia_turn_first_event_seconds", "Turn start to the first engine event streamed, by service.", ["service"],
    buckets=FAST_BUCKETS,
)
LLM_CALLS = Counter(
    "tertulia_llm_calls", "LLM calls by interaction name, model and outcome (ok | error | timeout).",
    ["interaction", "model", "outcome"],
)
LLM_TOKENS = Counter(
    "tertulia_llm_tokens", "LLM tokens by interaction name, model and direction (input | output).",
    ["interaction", "model", "direction"],
)
LLM_ERRORS = Counter(
    "tertulia_llm_errors", "Failed LLM calls by interaction name, model and kind (error | timeout).",
    ["interaction", "model", "kind"],
)
LLM_DURATION = Histogram(
    "tertulia_llm_duration_seconds", "One LLM call, by interaction name and model.", ["interaction", "model"],
    buckets=LATENCY_BUCKETS,
)
LLM_FIRST_TOKEN = Histogram(
    "tertulia_llm_time_to_first_token_seconds", "Streamed LLM calls: time to the first fragment.",
    ["interaction", "model"], buckets=FAST_BUCKETS,
)
JOBS = Counter(
    "tertulia_jobs", "Job attempts by kind and outcome (succeeded | retried | failed | lease_lost).", ["kind", "outcome"]
)
JOB_DURATION = Histogram("tertulia_job_duration_seconds", "One job attempt, by kind.", ["kind"], buckets=LATENCY_BUCKETS)
WEBHOOK_FAILURES = Counter(
    "tertulia_webhook_delivery_failures", "Webhook delivery attempts that got no 2xx answer.", ["event_type"]
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


def prepare_multiprocess_dir(path: str) -> None:
    """Create or empty the shared directory (at server start, before any worker process writes to it)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def _process_registry() -> CollectorRegistry:
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


class _Snapshot:
    """A collector over figures read beforehand (the database ones)."""

    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


async def render(db: Any = None, collect: Any = None) -> tuple[bytes, str]:
    """The exposition text: this process's (or all processes') counters and histograms, then the database gauges
    (``collect(db)``: ``tertulia.gauges.collect_database``, installed by the app)."""
    body = generate_latest(_process_registry())
    if db is not None and collect is not None:
        snapshot = CollectorRegistry(auto_describe=False)
        snapshot.register(_Snapshot(await collect(db)))
        body += generate_latest(snapshot)
    return body, CONTENT_TYPE_LATEST
