"""Database round trips per request: statements (and commits) each kind of request sends, counted on the engine.

    python benchmarks/round_trips.py [--database sqlite|postgres] [--turns 10]

Runs the real app in-process (ASGI) on a fresh database with the fake LLM (``TERTULIA_LLM_PROVIDER=fake``), a
bootstrapped organization and its demo service, and counts every statement the engine executes while one request
runs: the plain authenticated GET the load benchmark uses as its baseline, a sign-in with an API key, a create
(opening turn) and interacts (the mean over ``--turns``). Unlike timings, these counts do not depend on how busy the
machine is. PostgreSQL: a dedicated database (``--pg-database``) is created and dropped, and a second pass counts
the round trips asyncpg makes (BEGIN, each statement, COMMIT/ROLLBACK) with no statement listener: a listener sends
every statement through SQLAlchemy's execution context, so the first pass cannot see a batch sent as one statement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402

from tests.support.cluster import INTERACT_QUERY, PostgresUnavailable, benchmark_database, interact_files  # noqa: E402


class Counter:
    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self.kinds: dict[str, int] = {}
        self.show = False

    def attach(self, engine) -> None:  # noqa: ANN001
        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _statement(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
            self.statements += 1
            if self.show:
                print("    " + " ".join(statement.split())[:150])
            verb = statement.lstrip().split(None, 1)[0].upper()
            self.kinds[verb] = self.kinds.get(verb, 0) + 1

        @event.listens_for(engine.sync_engine, "commit")
        def _commit(conn):  # noqa: ANN001, ARG001
            self.commits += 1

    def snapshot(self) -> tuple[int, int, dict[str, int]]:
        return self.statements, self.commits, dict(self.kinds)


class TripCounter(Counter):
    """PostgreSQL: round trips on asyncpg's adapter (a statement, a BEGIN, a COMMIT or ROLLBACK each; a prepared
    statement asyncpg has cached costs no extra trip), counted without listening to the engine."""

    def attach(self, engine) -> None:  # noqa: ANN001, ARG002 - the adapter's methods, not the engine's events
        from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection as Conn
        from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_cursor as Cursor

        def counting(cls, name, kind, when=lambda self: True):  # noqa: ANN001, ANN202
            original = getattr(cls, name)

            def count(target) -> None:  # noqa: ANN001
                if when(target):
                    self.statements += 1
                    self.commits += kind == "COMMIT"
                    self.kinds[kind] = self.kinds.get(kind, 0) + 1

            if asyncio.iscoroutinefunction(original):
                async def wrapped(target, *args):  # noqa: ANN001, ANN202
                    count(target)
                    return await original(target, *args)
            else:
                def wrapped(target, *args):  # noqa: ANN001, ANN202
                    count(target)
                    return original(target, *args)
            setattr(cls, name, wrapped)

        counting(Cursor, "_prepare_and_execute", "statement")
        counting(Cursor, "_executemany", "statement")
        counting(Conn, "_start_transaction", "BEGIN", lambda c: c.isolation_level != "autocommit")
        counting(Conn, "commit", "COMMIT", lambda c: c._transaction is not None)
        counting(Conn, "rollback", "ROLLBACK", lambda c: c._transaction is not None)


async def measure(client: httpx.AsyncClient, counter: Counter, send) -> tuple[int, int, dict[str, int]]:  # noqa: ANN001
    s0, c0, k0 = counter.snapshot()
    response = await send(client)
    assert response.status_code in (200, 201), response.text[:500]
    if response.headers.get("content-type", "").startswith("application/x-ndjson"):
        last = json.loads(response.text.strip().splitlines()[-1])
        assert last["type"] == "interaction-complete", last
    s1, c1, k1 = counter.snapshot()
    return s1 - s0, c1 - c0, {k: v - k0.get(k, 0) for k, v in k1.items() if v - k0.get(k, 0)}


async def run(url: str, data_dir: Path, turns: int, show: bool = False, counter: Counter | None = None) -> None:
    from tertulia.app import create_app
    from tertulia.bootstrap import run_bootstrap
    from tertulia.settings import Settings
    from tertulia.wiring import build_runtime, close_runtime
    from tests.support.schema import reset_schema

    await asyncio.to_thread(reset_schema, url)
    settings = Settings(database_url=url, data_dir=data_dir, jwt_secret="round-trips-" + "x" * 40,
                        rate_limits_enabled=False, llm_provider="fake")
    runtime = await build_runtime(settings)
    try:
        creds = await run_bootstrap(runtime.db, pepper=settings.resolved_api_key_pepper())
        counter = counter or Counter()
        counter.attach(runtime.db.engine)
        app = create_app(runtime)
        base = f"/v1/{creds.organization_id}"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tertulia.test") as client:
            signin_headers = {"x-api-key": creds.api_key, "x-api-key-id": creds.api_key_id, "x-user-id": creds.user_id}
            results: dict[str, list[tuple[int, int, dict[str, int]]]] = {}

            async def signin(c):  # noqa: ANN001, ANN202
                return await c.post(f"{base}/user/signin_with_api_key", headers=signin_headers)

            await signin(client)  # a bootstrap key may still carry the legacy hash: its first sign-in upgrades it
            results["sign-in with API key"] = [await measure(client, counter, signin) for _ in range(3)]
            token = (await signin(client)).json()["id_token"]
            headers = {"Authorization": f"Bearer {token}"}
            results["plain GET /service/?limit=1"] = [
                await measure(client, counter, lambda c: c.get(f"{base}/service/?limit=1", headers=headers))
                for _ in range(3)
            ]
            conversation: dict[str, str] = {}

            async def create(c):  # noqa: ANN001, ANN202
                r = await c.post(f"{base}/conversation/?response_format=text", json={"service_id": creds.service_id},
                                 headers=headers)
                conversation["id"] = json.loads(r.text.splitlines()[0])["conversation_id"]
                return r

            results["create (opening turn)"] = [await measure(client, counter, create)]
            if show:
                counter.show = True
                print("  one interact:")
                await measure(client, counter, lambda c: c.post(
                    f"{base}/conversation/{conversation['id']}/interact?{INTERACT_QUERY}",
                    files=interact_files("Shown."), headers=headers))
                counter.show = False
            results["interact (one turn)"] = [
                await measure(client, counter, lambda c, k=k: c.post(
                    f"{base}/conversation/{conversation['id']}/interact?{INTERACT_QUERY}",
                    files=interact_files(f"Turn {k}."), headers=headers))
                for k in range(turns)
            ]
        trips = isinstance(counter, TripCounter)
        what = "round trips on asyncpg, no statement listener" if trips else "statements sent to the database"
        print(f"database={url.split(':', 1)[0].split('+')[0]}  ({what} per request; mean over the runs)")
        print(f"  {'request':34} {'trips' if trips else 'statements':>10} {'commits':>8}   by kind")
        for name, rows in results.items():
            statements = statistics.fmean(r[0] for r in rows)
            commits = statistics.fmean(r[1] for r in rows)
            kinds: dict[str, float] = {}
            for _, _, k in rows:
                for verb, n in k.items():
                    kinds[verb] = kinds.get(verb, 0) + n / len(rows)
            detail = ", ".join(f"{verb} {n:.1f}".replace(".0", "") for verb, n in sorted(kinds.items()))
            print(f"  {name:34} {statements:10.1f} {commits:8.1f}   {detail}")
    finally:
        await close_runtime(runtime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--pg-database", default="tertulia_round_trips")
    parser.add_argument("--show", action="store_true", help="print the statements of one interact")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tertulia-rt-") as tmp:
        try:
            with benchmark_database(args.database, args.pg_database, Path(tmp) / "rt.db") as url:
                asyncio.run(run(url, Path(tmp) / "data", args.turns, args.show))
                if args.database == "postgres":
                    asyncio.run(run(url, Path(tmp) / "data2", args.turns, counter=TripCounter()))
        except PostgresUnavailable as exc:
            print(f"PostgreSQL needed: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
