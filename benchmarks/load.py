"""End-to-end load: N concurrent conversations x M turns against 1 or 2 real ``tertulia serve`` processes sharing one
database, with a zero-latency LLM, so what is measured is the platform's own cost per turn (HTTP, auth, lease,
engine, NDJSON streaming, the one-transaction commit) under concurrency.

    python benchmarks/load.py --conversations 20 --turns 10 --processes 1 --database sqlite
    python benchmarks/load.py --conversations 20 --turns 10 --processes 2 --database postgres

* Decisions: ``--reasoning none`` (default): the instant stub stands in for a hosted model, which decides with one
  labelled pick; ``checklist`` (what a loopback server gets by default) adds an embedding of the user's message per
  decision (``engine/closeness.py``), a few ms of CPU that a real local model's seconds per decision hide.
* LLM: ``--llm stub`` (default) is the OpenAI-compatible stub (``tests/engine/openai_stub.py``) in its own process,
  reached through the real OpenAI adapter; ``--llm fake`` is ``TERTULIA_LLM_PROVIDER=fake`` (no HTTP hop).
* Each conversation is opened with create (its opening turn), then M interacts; request k of conversation i goes to
  process (i + k) mod P: no sticky routing. Rate limits are off (the spec allows 15 interacts/min per org).
* PostgreSQL: a dedicated database (``--pg-database``, default ``tertulia_load``) on 127.0.0.1:5432 is created and
  dropped. Everything runs on loopback and stops by itself (``--timeout``).

Prints, side by side from the same run: the p50 of a plain authenticated GET (``GET /service/?limit=1``: auth + one
query; ``--baseline-requests`` of them, sequentially, before and after the load, and with one conversation also one
before every turn), turns/s, p50/p99 turn time (= overhead: the LLM answers instantly), p50/p99 time to first event,
their ratios to the GET, errors, lost messages (messages counted through the API afterwards vs. the 1 + 2*M expected
per conversation), and with ``--llm stub`` the LLM chat calls per turn (by kind), request bytes per turn and the
share of each prompt that repeats the previous prompt of its kind (prefix a provider's prompt cache can reuse).
Exits 1 if errors or lost messages are not 0.

``--before DIR`` first runs the same load on an older source tree (its ``src/``, e.g. ``git archive <commit> src | tar
-x -C /tmp/before``; the servers run with ``PYTHONPATH=DIR``), then on this one, and prints both side by side.

``--repeat N`` runs each tree N times, alternating, and prints each figure's median (and every run's turns/s): the
shared host's speed drifts from minute to minute, so one run of each can differ by 50 % for the same tree.

``--profile out.txt`` runs ``py-spy record`` on server process 0 during the load and writes a collapsed-stack
profile (``--profile-format speedscope|flamegraph|raw``; needs ``pip install py-spy`` and ptrace rights).
``python benchmarks/profile_summary.py out.txt`` prints the top frames.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import httpx  # noqa: E402

from tests.support.cluster import (  # noqa: E402
    INTERACT_QUERY,
    Cluster,
    PostgresUnavailable,
    benchmark_database,
    count_messages,
    interact_files,
    new_service,
)
from benchmarks.lean_client import HTTPFailure, LeanClient, multipart_body  # noqa: E402
from tests.engine.openai_stub import start_stub_process  # noqa: E402


@dataclass
class Stats:
    turn_ms: list[float] = field(default_factory=list)
    first_event_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # NDJSON events per turn
    pieces: list[int] = field(default_factory=list)  # of which reply pieces (new-message)


BASELINE_PATH = "/service/?limit=1"


async def timed_get(client: LeanClient, stats: Stats, url: str, headers: dict[str, str]) -> None:
    """The baseline: a plain authenticated GET (token check, principal, one list query, JSON)."""
    started = time.perf_counter()
    try:
        status, data = await client.request("GET", url, headers)
    except HTTPFailure as exc:
        stats.errors.append(f"baseline GET {exc}")
        return
    if status != 200:
        stats.errors.append(f"baseline GET {status} {data[:200]!r}")
        return
    stats.get_ms.append((time.perf_counter() - started) * 1000)


async def baseline(cluster: Cluster, client: LeanClient, stats: Stats, headers: dict[str, str], n: int) -> None:
    for k in range(n):
        await timed_get(client, stats, cluster.url(k % len(cluster.nodes), BASELINE_PATH), headers)


async def timed_turn(client: LeanClient, stats: Stats, url: str, headers: dict[str, str], body: bytes,
                     content_type: str) -> str | None:
    """One streamed turn (POST); returns the first event's conversation id (creates) or "" on success, None on
    failure. The first event's time: when the response's first body bytes arrive."""
    started = time.perf_counter()
    first: list[float] = []
    try:
        status, data = await client.request("POST", url, headers, body, content_type,
                                            on_first_bytes=lambda: first.append(time.perf_counter()))
    except HTTPFailure as exc:
        stats.errors.append(str(exc))
        return None
    if status not in (200, 201):
        stats.errors.append(f"{status} {data[:200]!r}")
        return None
    lines = [line for line in data.decode().splitlines() if line.strip()]
    done = time.perf_counter()
    last = json.loads(lines[-1]) if lines else {}
    if last.get("type") != "interaction-complete":
        stats.errors.append(f"turn ended with {last}")
        return None
    stats.turn_ms.append((done - started) * 1000)
    stats.lines.append(len(lines))
    stats.pieces.append(sum('"type":"new-message"' in line for line in lines))
    stats.first_event_ms.append(((first[0] if first else done) - started) * 1000)
    return json.loads(lines[0]).get("conversation_id", "")


async def conversation(cluster: Cluster, index: int, service_id: str, turns: int, headers: dict[str, str],
                       client: LeanClient, stats: Stats, interleave: bool) -> tuple[str | None, int]:
    """Returns the conversation id and how many of its interacts succeeded. ``interleave``: a baseline GET before
    every turn (one conversation only: the GET then sees the same conditions as the turns)."""
    size = len(cluster.nodes)
    if interleave:
        await timed_get(client, stats, cluster.url(index % size, BASELINE_PATH), headers)
    conversation_id = await timed_turn(client, stats, cluster.url(index % size, "/conversation/?response_format=text"),
                                       headers, json.dumps({"service_id": service_id}).encode(), "application/json")
    if conversation_id is None:
        return None, 0
    ok = 0
    for k in range(1, turns + 1):
        node = (index + k) % size
        if interleave:
            await timed_get(client, stats, cluster.url(node, BASELINE_PATH), headers)
        body, content_type = multipart_body([(name, value[1] if value[0] is None else value)
                                             for name, value in interact_files(f"Turn {k} of conversation {index}.")])
        done = await timed_turn(client, stats,
                                cluster.url(node, f"/conversation/{conversation_id}/interact?{INTERACT_QUERY}"),
                                headers, body, content_type)
        ok += done is not None
    return conversation_id, ok


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def run(cluster: Cluster, args: argparse.Namespace) -> dict:
    headers = cluster.sign_in(0)
    base = cluster.url(0, "")
    services = [new_service(base, headers, cluster.credentials.service_id, f"load-{i}") for i in range(args.conversations)]
    stats = Stats()
    # The timed requests go through benchmarks/lean_client.py (raw asyncio streams: httpx cost the shared host about
    # as much CPU per turn as the server); idle connections are dropped (2 s) before uvicorn's keep-alive (5 s).
    interleave = args.conversations == 1
    client = LeanClient(timeout=60)
    try:
        await baseline(cluster, client, Stats(), headers, 20)  # warm-up: connections, caches, first compilations
        for i in range(min(3, args.conversations)):  # warm-up turns on throw-away services
            warm = new_service(base, headers, cluster.credentials.service_id, f"warm-{i}")
            await conversation(cluster, i, warm, 2, headers, client, Stats(), False)
        cpu0 = server_cpu(cluster)
        await baseline(cluster, client, stats, headers, args.baseline_requests)
        cpu_get = (server_cpu(cluster) - cpu0) / max(1, len(stats.get_ms))
        llm_before = llm_stats(args)
        cpu1, others1 = server_cpu(cluster), others_cpu(args)
        profiler = start_profiler(cluster, args)
        started = time.perf_counter()
        try:
            ids = await asyncio.wait_for(asyncio.gather(*(
                conversation(cluster, i, services[i], args.turns, headers, client, stats, interleave)
                for i in range(args.conversations)
            )), args.timeout)
        finally:
            wall = time.perf_counter() - started
            cpu_load = server_cpu(cluster) - cpu1
            cpu_others = others_cpu(args) - others1
            stop_profiler(profiler)
        llm_after = llm_stats(args)
        await baseline(cluster, client, stats, headers, args.baseline_requests)
    finally:
        await client.aclose()
    expected_each = 1 + 2 * args.turns
    lost = extra = 0
    for conversation_id, ok in ids:
        if conversation_id is None:
            lost += expected_each
            continue
        expected = 1 + 2 * ok  # the opening reply + a user message and a reply per turn the client saw complete
        counts = {count_messages(cluster.url(node, ""), headers, conversation_id) for node in range(len(cluster.nodes))}
        lost += max(0, expected - min(counts)) + max(0, 2 * (args.turns - ok))  # a failed turn counts as lost too
        extra += max(0, max(counts) - expected)  # a turn the client saw fail must not have been persisted
    figures = summarise(args, stats, wall, cpu_load, cpu_get, llm_before, llm_after, lost, extra)
    figures["cpu_others"] = cpu_others / max(1, figures["turns"])
    if stats.errors:
        print(cluster.logs()[-6000:], file=sys.stderr)
    return figures


def summarise(args: argparse.Namespace, stats: Stats, wall: float, cpu_load: float, cpu_get: float,
              llm_before: dict | None, llm_after: dict | None, lost: int, extra: int) -> dict:
    turns = len(stats.turn_ms)
    gets_in_load = len(stats.get_ms) - 2 * args.baseline_requests  # interleaved GETs ran during the load phase
    f = {
        "get_p50": pct(stats.get_ms, 50), "get_p99": pct(stats.get_ms, 99), "gets": len(stats.get_ms),
        "turns": turns, "wall": wall, "turns_per_s": turns / wall if wall else float("nan"),
        "turn_p50": pct(stats.turn_ms, 50), "turn_p99": pct(stats.turn_ms, 99),
        "turn_mean": statistics.fmean(stats.turn_ms) if stats.turn_ms else float("nan"),
        "first_p50": pct(stats.first_event_ms, 50), "first_p99": pct(stats.first_event_ms, 99),
        "cpu_turn": (cpu_load - max(0, gets_in_load) * cpu_get) / max(1, turns), "cpu_get": cpu_get,
        "lines": statistics.fmean(stats.lines) if stats.lines else float("nan"),
        "pieces": statistics.fmean(stats.pieces) if stats.pieces else float("nan"),
        "errors": len(stats.errors), "error_examples": stats.errors[:3], "lost": lost, "ghost": extra,
        "llm_calls": None, "llm_calls_by_kind": "", "embedding_calls": None, "llm_bytes": None, "prefix_share": None,
    }
    if llm_before is not None and llm_after is not None and turns:
        calls = {k: v - llm_before["calls"].get(k, 0) for k, v in llm_after["calls"].items()}
        calls = {k: v for k, v in calls.items() if v}
        prompt = llm_after["prompt_chars"] - llm_before["prompt_chars"]
        prefix = llm_after["prefix_chars"] - llm_before["prefix_chars"]
        f["llm_calls"] = sum(calls.values()) / turns
        f["llm_calls_by_kind"] = ", ".join(f"{k} {v / turns:.2f}" for k, v in sorted(calls.items()))
        f["embedding_calls"] = (llm_after["embedding_calls"] - llm_before["embedding_calls"]) / turns
        f["llm_bytes"] = (llm_after["request_bytes"] - llm_before["request_bytes"]) / turns
        f["prefix_share"] = 100 * prefix / max(prompt, 1)
    return f


ROWS = [  # (label, formatter) for the side-by-side table
    ("plain GET p50 / p99 ms", lambda f: f"{f['get_p50']:.1f} / {f['get_p99']:.1f}  ({f['gets']} GETs)"),
    ("turns/s", lambda f: f"{f['turns_per_s']:.1f}  ({f['turns']} in {f['wall']:.1f} s)"),
    ("turn p50 / p99 ms", lambda f: f"{f['turn_p50']:.1f} / {f['turn_p99']:.1f}  (mean {f['turn_mean']:.1f})"),
    ("first event p50 / p99 ms", lambda f: f"{f['first_p50']:.1f} / {f['first_p99']:.1f}"),
    ("turn p50 / GET p50", lambda f: f"{f['turn_p50'] / f['get_p50']:.2f}x"),
    ("first event p50 / GET p50", lambda f: f"{f['first_p50'] / f['get_p50']:.2f}x"),
    ("turn p99 / turn p50", lambda f: f"{f['turn_p99'] / f['turn_p50']:.2f}x"),
    ("server CPU ms per turn / per GET", lambda f: f"{f['cpu_turn']:.1f} / {f['cpu_get']:.1f}  "
                                                   f"({f['cpu_turn'] / max(f['cpu_get'], 1e-9):.1f}x)"),
    ("client + stub CPU ms per turn", lambda f: f"{f['cpu_others']:.1f}  (the load client and the LLM stub)"),
    ("LLM calls / turn", lambda f: "n/a" if f["llm_calls"] is None else f"{f['llm_calls']:.2f}"),
    ("embedding calls / turn", lambda f: "n/a" if f["embedding_calls"] is None else f"{f['embedding_calls']:.2f}"),
    ("LLM request bytes / turn", lambda f: "n/a" if f["llm_bytes"] is None else f"{f['llm_bytes']:.0f}"),
    ("prompt prefix reused", lambda f: "n/a" if f["prefix_share"] is None else f"{f['prefix_share']:.0f} %"),
    ("NDJSON events / reply pieces per turn", lambda f: f"{f['lines']:.1f} / {f['pieces']:.1f}"),
    ("errors / lost / ghost messages", lambda f: f"{f['errors']} / {f['lost']} / {f['ghost']}"),
]


def print_figures(args: argparse.Namespace, runs: list[tuple[str, dict]]) -> None:
    print(f"database={args.database} processes={args.processes} llm={args.llm} reasoning={args.reasoning} "
          f"conversations={args.conversations} turns/conversation={args.turns} (+1 opening); plain GET = {BASELINE_PATH}"
          + (", one before every turn and" if args.conversations == 1 else "")
          + f" {args.baseline_requests} before and after the load")
    width = max(len(label) for label, _ in ROWS)
    cells = [[fmt(f) for _, f in runs] for _, fmt in ROWS]
    col = max([len(name) for name, _ in runs] + [len(c) for row in cells for c in row])
    print(f"  {'':{width}}  " + "  ".join(f"{name:{col}}" for name, _ in runs))
    for (label, _), row in zip(ROWS, cells, strict=True):
        print(f"  {label:{width}}  " + "  ".join(f"{c:{col}}" for c in row))
    for name, f in runs:
        if f["llm_calls_by_kind"]:
            print(f"  {name}: LLM calls / turn by kind: {f['llm_calls_by_kind']}")
        if f["error_examples"]:
            print(f"  {name} errors e.g. {f['error_examples']}")
    print("  (server CPU = user+system time of the server processes: the figure contention on a shared host moves least;"
          " prompt prefix reused = share of each prompt that repeats the previous prompt of its kind)")


def process_cpu(pid: int) -> float:
    """CPU milliseconds (user + system) process ``pid`` has used so far (Linux ``/proc``); NaN when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")  # utime, stime


def server_cpu(cluster: Cluster) -> float:
    """CPU milliseconds the server processes have used so far."""
    return sum(process_cpu(node.process.pid) for node in cluster.nodes)


def others_cpu(args: argparse.Namespace) -> float:
    """CPU milliseconds this load client and the LLM stub have used so far (what shares the host with the servers)."""
    return process_cpu(os.getpid()) + (process_cpu(args.stub_pid) if args.stub_pid else 0.0)


def llm_stats(args: argparse.Namespace) -> dict | None:
    if args.llm != "stub":
        return None
    return httpx.get(args.llm_url.removesuffix("/v1") + "/stats", timeout=10).json()


def start_profiler(cluster: Cluster, args: argparse.Namespace) -> subprocess.Popen | None:
    if not args.profile:
        return None
    pid = cluster.nodes[0].process.pid
    fmt = args.profile_format
    proc = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--rate", "250", "--gil", "--format", fmt, "--output",
                             args.profile, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # let py-spy attach before the load starts
    if proc.poll() is not None:
        raise RuntimeError(f"py-spy failed: {proc.stderr.read().decode()[-2000:]}")
    return proc


def stop_profiler(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--llm", choices=("stub", "fake"), default="stub")
    parser.add_argument("--pg-database", default="tertulia_load")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    parser.add_argument("--baseline-requests", type=int, default=30,
                        help="plain GETs measured sequentially before and after the load")
    parser.add_argument("--profile", help="py-spy record server process 0 during the load into this file")
    parser.add_argument("--reasoning", default="none", choices=("none", "brief", "checklist", "checks", "auto"),
                        help="TERTULIA_DECISION_REASONING of the servers (default none: the instant stub stands in for "
                        "a hosted model; checklist/checks add an embedding of the message per decision)")
    parser.add_argument("--before", help="also measure this older tertulia source tree (its src/ folder, e.g. from "
                        "'git archive <commit> src | tar -x -C /tmp/before'), first, and print both side by side")
    parser.add_argument("--profile-format", choices=("raw", "speedscope", "flamegraph"), default="raw")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each tree this many times, alternating (before, after, before, ...), and print each "
                        "figure's median: on a shared host the speed drifts from minute to minute")
    args = parser.parse_args()
    args.llm_url = None
    args.stub_pid = None
    if args.database == "sqlite" and args.processes > 1:
        print("note: several processes on one SQLite file work but serialise on its write lock", file=sys.stderr)
    trees = [("before", str(Path(args.before).resolve())), ("after", str(ROOT / "src"))] if args.before else [("now", "")]
    every: dict[str, list[dict]] = {name: [] for name, _ in trees}
    for _ in range(max(1, args.repeat)):
        for name, src in trees:
            try:
                every[name].append(one_run(args, src))
            except PostgresUnavailable as exc:
                print(f"PostgreSQL needed: {exc}", file=sys.stderr)
                return 2
    runs = [(name, median_figures(every[name])) for name, _ in trees]
    print_figures(args, runs)
    if args.repeat > 1:
        for name, _ in trees:
            print(f"  {name}: turns/s of each run " + ", ".join(f"{f['turns_per_s']:.1f}" for f in every[name])
                  + "; server CPU ms per turn " + ", ".join(f"{f['cpu_turn']:.1f}" for f in every[name]))
    return 0 if all(f["errors"] == 0 and f["lost"] == 0 and f["ghost"] == 0 for fs in every.values() for f in fs) else 1


def median_figures(runs: list[dict]) -> dict:
    """Each numeric figure's median over ``runs``; counts of failures summed; the rest from the first run."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if key in ("errors", "lost", "ghost"):
            out[key] = sum(r[key] for r in runs)
        elif key == "error_examples":
            out[key] = [e for r in runs for e in r[key]][:3]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
            middle = statistics.median(values) if values else value
            out[key] = round(middle) if isinstance(value, int) else middle
    return out


def one_run(args: argparse.Namespace, src: str) -> dict:
    """One load run on a fresh database; ``src``: the tertulia source tree the servers run ("" = this one)."""
    stub = None
    with tempfile.TemporaryDirectory(prefix="tertulia-load-") as tmp:
        try:
            with benchmark_database(args.database, args.pg_database, Path(tmp) / "cluster.db") as url:
                llm_url = None
                if args.llm == "stub":
                    stub, llm_root = start_stub_process(timeout=20)
                    args.stub_pid = stub.pid
                    llm_url = f"{llm_root}/v1"
                    args.llm_url = llm_url
                env = {"TERTULIA_DECISION_REASONING": args.reasoning} | ({"PYTHONPATH": src} if src else {})
                with Cluster(Path(tmp), args.processes, database_url=url, llm_base_url=llm_url, extra_env=env) as cluster:
                    return asyncio.run(run(cluster, args))
        finally:
            if stub is not None:
                stub.terminate()
                stub.wait(10)

if __name__ == "__main__":
    sys.exit(main())
