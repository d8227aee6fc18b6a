"""Per-turn cost of tracing: the same turns with tracing off and on, printed side by side in one run.

    python benchmarks/tracing_overhead.py [--turns 80] [--warmup 10] [--rounds 3]

Each mode gets its own SQLite database and app (in-process ASGI over httpx, the fake LLM, rate limits off) and runs
one conversation: an opening turn, ``--warmup`` untimed turns, then ``--turns`` timed interact turns.

* off: no tracer provider (what a server without ``OTEL_EXPORTER_OTLP_ENDPOINT`` runs): every span is OpenTelemetry's
  no-op span, the app and the database engine are not instrumented.
* on: the real SDK with the OTLP/HTTP exporter behind a batch processor, exporting to a discard-only OTLP endpoint in
  a subprocess on loopback (so serialisation and export are paid, the collector is not), plus the FastAPI and
  SQLAlchemy instrumentation: HTTP, database, turn step, tool and LLM spans.

Each run is a fresh process (OpenTelemetry allows one global provider per process); off and on runs alternate
``--rounds`` times and their turn times are pooled, so machine load hits both alike. Bounded, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

DISCARD_SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('content-length') or 0))
        self.send_response(200); self.send_header('content-length', '0'); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


async def run_mode(tmp: Path, turns: int, warmup: int) -> list[float]:
    import httpx
    from asgi_lifespan import LifespanManager

    from tertulia.app import create_app
    from tertulia.migrations import upgrade
    from tertulia.observability.tracing import instrument_engine
    from tertulia.settings import Settings
    from tertulia.wiring import build_runtime, close_runtime
    from tests.support.conversation import interact, make_service, start
    from tests.support.orgs import make_tenant

    tmp.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    runtime = await build_runtime(Settings(database_url=url, data_dir=tmp, jwt_secret="bench-" + "x" * 40,
                                           rate_limits_enabled=False, llm_provider="fake"))
    instrument_engine(runtime.db.engine)  # a no-op without a tracer provider
    app = create_app(runtime)
    times: list[float] = []
    try:
        async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                           base_url="http://bench") as client:
            tenant = await make_tenant(runtime.db, client)
            ready = await make_service(client, tenant)
            conversation_id, _ = await start(client, tenant, ready.service_id)
            for i in range(warmup + turns):
                started = time.perf_counter()
                r = await interact(client, tenant, conversation_id, f"Turn {i}: tell me more about sleep.")
                elapsed = (time.perf_counter() - started) * 1000
                assert r.status_code == 200 and '"interaction-complete"' in r.text, r.text[-500:]
                if i >= warmup:
                    times.append(elapsed)
    finally:
        await close_runtime(runtime)
    return times


class CountingProcessor:
    def __init__(self) -> None:
        self.ended = 0

    def on_start(self, span, parent_context=None) -> None:  # noqa: ANN001
        pass

    def on_end(self, span) -> None:  # noqa: ANN001
        self.ended += 1

    def _on_ending(self, span) -> None:  # noqa: ANN001
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def install_sdk(endpoint: str) -> tuple[CountingProcessor, object]:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "tertulia-bench"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    counter = CountingProcessor()
    provider.add_span_processor(counter)
    trace.set_tracer_provider(provider)
    return counter, provider


async def one_mode(mode: str, turns: int, warmup: int, endpoint: str) -> dict:
    """One mode in this (fresh) process: the timed turns and, with tracing on, the spans ended per turn."""
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        counter = provider = None
        if mode == "on":
            counter, provider = install_sdk(endpoint)
        times = await run_mode(Path(tmp), turns, warmup)
        spans = counter.ended / (turns + warmup + 1) if counter else 0  # +1: the opening turn
        if provider is not None:
            provider.shutdown()
    return {"times": times, "spans": spans}


def summarise(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {"p50": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))], "mean": statistics.fmean(times)}


def main() -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=80, help="timed turns per run")
    parser.add_argument("--warmup", type=int, default=10, help="untimed turns first in each run")
    parser.add_argument("--rounds", type=int, default=3, help="off/on run pairs, interleaved")
    parser.add_argument("--mode", choices=["off", "on"], help=argparse.SUPPRESS)  # one run (internal)
    parser.add_argument("--endpoint", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(asyncio.run(one_mode(args.mode, args.turns, args.warmup, args.endpoint))))
        return
    collector = subprocess.Popen([sys.executable, "-c", DISCARD_SERVER], stdout=subprocess.PIPE, text=True)
    pooled: dict[str, list[float]] = {"off": [], "on": []}
    spans = 0.0
    try:
        endpoint = f"http://127.0.0.1:{int(collector.stdout.readline())}"
        for _ in range(args.rounds):
            for mode in ("off", "on"):  # each run in a fresh process: one tracer provider (or none) per process
                done = subprocess.run([sys.executable, __file__, "--mode", mode, "--turns", str(args.turns),
                                       "--warmup", str(args.warmup), "--endpoint", endpoint],
                                      capture_output=True, text=True, timeout=300, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                pooled[mode].extend(result["times"])
                spans = max(spans, result["spans"])
    finally:
        collector.kill()
        collector.wait(5)
    off, on = summarise(pooled["off"]), summarise(pooled["on"])
    print(f"{args.rounds} interleaved off/on run pairs x {args.turns} timed interact turns "
          "(in-process ASGI, SQLite, fake LLM)")
    print(f"{'':14}{'tracing off':>14}{'tracing on':>14}{'overhead':>12}")
    for key in ("p50", "p95", "mean"):
        print(f"{key + ' ms/turn':14}{off[key]:>14.2f}{on[key]:>14.2f}{on[key] - off[key]:>+12.2f}")
    print(f"spans per turn with tracing on (HTTP, database, turn steps, tools, LLM calls; setup requests included): "
          f"{spans:.0f}")


if __name__ == "__main__":
    main()
