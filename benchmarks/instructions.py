"""Instructions per request under callgrind: a plain authenticated GET and an interact (fake LLM, SQLite), counted by
valgrind, so the figures do not move with the host's load (the load benchmark's times drift ±30 % on a shared host;
these repeat within 0.5 %). The way to tell a 3 % gain from noise.

    python benchmarks/instructions.py [--requests 20] [--before DIR] [--database sqlite|postgres]

Each figure comes from its own process: the app in-process behind httpx's ASGI transport (the client's own work is
counted too, the same in every run), one service, one conversation warmed up with 25 turns (its transcript window
full), then ``--requests`` GETs ``/service/?limit=1`` or interacts with instrumentation switched on only around them
(``callgrind_control -i on|off``). ``--before DIR`` measures that source tree too (e.g. ``git archive <commit> src |
tar -x -C DIR``; the tree must speak the API of this checkout's ``tests/support``, which trees from ``6cdbe99`` on do)
and prints both side by side. ``--database postgres``: each process on a PostgreSQL database of its own, recreated
for it (only this process's instructions are counted: asyncpg's side of each round trip, not the server's). Needs
valgrind (Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPS = ("get", "interact")


async def _measure(op: str, requests: int, workdir: Path) -> None:
    """The child: set up, warm up, count ``requests`` of ``op`` with instrumentation on."""
    import httpx
    from asgi_lifespan import LifespanManager

    from tertulia import app as app_module
    from tertulia.app import create_app
    from tertulia.settings import Settings
    from tertulia.wiring import build_runtime, close_runtime
    from tests.support.conversation import interact, make_service, start
    from tests.support.orgs import make_tenant

    url = os.environ.get("TERTULIA_IR_DATABASE_URL") or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    settings = Settings(database_url=url, data_dir=workdir, jwt_secret="bench-" + "x" * 40, rate_limits_enabled=False,
                        llm_provider="fake")
    runtime = await build_runtime(settings)
    app = create_app(runtime)

    def switch(state: str) -> None:
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)

    try:
        async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                          base_url="http://bench") as client:
            tenant = await make_tenant(runtime.db, client)
            service = await make_service(client, tenant)
            conversation_id, _ = await start(client, tenant, service.service_id)

            async def one(k: int) -> None:
                if op == "get":
                    r = await client.get(tenant.url("/service/?limit=1"), headers=tenant.headers)
                else:
                    r = await interact(client, tenant, conversation_id, f"Message number {k}")
                assert r.status_code == 200 and (op == "get" or "interaction-complete" in r.text), r.text[-300:]

            for k in range(25):  # warm-up: caches, compiled statements, a full transcript window
                await one(k)
                await client.get(tenant.url("/service/?limit=1"), headers=tenant.headers)
            settle_heap = getattr(app_module, "settle_heap", None)
            if settle_heap is not None:  # as the server's lifespan does (trees before it had no such step)
                # Without it a full collection walks the whole start-up heap (~100 M instructions) and lands in
                # the counted window or not depending on how many objects earlier requests allocated: one more
                # allocation per request could double the GET figure.
                settle_heap()
            switch("on")
            for k in range(requests):
                await one(100 + k)
            switch("off")
    finally:
        await close_runtime(runtime)


def count(src: str, op: str, requests: int, database: str = "sqlite", job: int = 0) -> float:
    """Instructions per request of ``op`` on the tree ``src``."""
    from tests.support.cluster import benchmark_database

    with tempfile.TemporaryDirectory(prefix="tertulia-ir-") as tmp, \
            benchmark_database(database, f"tertulia_ir_{job}", Path(tmp) / "bench.db") as url:
        out = Path(tmp) / "callgrind.out"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, str(ROOT)]), TERTULIA_IR_DATABASE_URL=url)
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
               sys.executable, __file__, "--child", op, "--requests", str(requests), "--workdir", tmp]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the measured process failed ({op}, {src}):\n{done.stderr[-3000:]}")
        totals = [line.split()[1] for line in out.read_text().splitlines() if line.startswith("totals:")]
        return int(totals[0]) / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--before", help="also measure this older source tree (its src/ folder)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--child", choices=OPS, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from tertulia.migrations import upgrade

        upgrade(os.environ.get("TERTULIA_IR_DATABASE_URL")  # before the event loop: Alembic runs its own
                or f"sqlite+aiosqlite:///{Path(args.workdir) / 'bench.db'}")
        asyncio.run(_measure(args.child, args.requests, Path(args.workdir)))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    sys.path[:0] = [str(ROOT)]  # tests.support, for count's databases
    trees = ([("before", str(Path(args.before).resolve()))] if args.before else []) + [("now", str(ROOT / "src"))]
    jobs = [(name, src, op) for name, src in trees for op in OPS]
    with ThreadPoolExecutor(max_workers=2) as pool:  # counts do not depend on what runs beside them
        counted = list(pool.map(lambda i: count(jobs[i][1], jobs[i][2], args.requests, args.database, i),
                                range(len(jobs))))
    figures: dict[str, dict[str, float]] = {}
    for (name, _, op), value in zip(jobs, counted, strict=True):
        figures.setdefault(name, {})[op] = value
    print(f"instructions per request (callgrind, in-process ASGI client included, {args.requests} requests each, "
          f"{args.database})")
    print(f"{'':24}" + "".join(f"{name:>16}" for name, _ in trees))
    for op, label in (("get", "plain GET"), ("interact", "interact (fake LLM)")):
        print(f"{label:24}" + "".join(f"{figures[name][op] / 1e6:>14.2f} M" for name, _ in trees))
    print(f"{'interact / GET':24}" + "".join(f"{figures[n]['interact'] / figures[n]['get']:>15.2f}x" for n, _ in trees))
    if args.before:
        for op in OPS:
            print(f"{op}: {100 * (figures['now'][op] / figures['before'][op] - 1):+.1f} % against before")
    return 0


if __name__ == "__main__":
    sys.exit(main())
