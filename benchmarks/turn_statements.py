"""SQL statements per turn, by phase of the turn: loading its inputs, the lease, writing its outcome.

    python benchmarks/turn_statements.py [--database sqlite|postgres] [--turns 20]

Runs turns in-process (``tertulia.turns.inprocess``, the same planning, lease, engine and save as the HTTP API) with
the fake LLM on a fresh database with a bootstrapped organization and its demo service, and counts every statement
and commit the engine executes (SQLAlchemy ``before_cursor_execute`` / ``commit`` events), attributed to the
``TurnStore`` call that sent it. What it shows, and checks (exit 1 otherwise):

* ``load``: the inputs of a turn are read in the same number of statements on the 2nd turn and the last one,
  however long the conversation has grown;
* ``save``: the outcome is written in ONE transaction (one commit) per turn;
* ``lease``: taking and releasing the lease are their own short transactions (the save releases it in its own);
* ``other``: what the engine reads on its own while the turn runs (the user's memories, when a state recalls them).

Unlike timings, these counts do not depend on how busy the machine is. PostgreSQL: a dedicated database
(``--pg-database``) is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from sqlalchemy import event  # noqa: E402

from tests.support.cluster import PostgresUnavailable, benchmark_database  # noqa: E402

PHASE: contextvars.ContextVar[str] = contextvars.ContextVar("phase", default="other")
STORE_PHASES = {"conversation": "load", "versions": "load", "last_message_at": "load", "load": "load",
                "load_new": "load", "speaker_hints": "load",
                "reserve": "lease", "acquire": "lease", "release": "lease", "save": "save"}


class Counts:
    def __init__(self) -> None:
        self.statements: dict[str, int] = defaultdict(int)
        self.commits: dict[str, int] = defaultdict(int)

    def attach(self, engine) -> None:  # noqa: ANN001
        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _statement(*_args) -> None:  # noqa: ANN002
            self.statements[PHASE.get()] += 1

        @event.listens_for(engine.sync_engine, "commit")
        def _commit(*_args) -> None:  # noqa: ANN002
            self.commits[PHASE.get()] += 1

    def take(self) -> tuple[dict[str, int], dict[str, int]]:
        taken = dict(self.statements), dict(self.commits)
        self.statements.clear()
        self.commits.clear()
        return taken


def counting_store(runtime):  # noqa: ANN001, ANN201
    """The SQL turn store with each call run under its phase's name (what the counters attribute statements to)."""
    from tertulia.turns.store_sql import SqlTurnStore

    class CountingStore(SqlTurnStore):
        pass

    for method, phase in STORE_PHASES.items():
        original = getattr(SqlTurnStore, method)

        async def wrapped(self, *args, _original=original, _phase=phase, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            token = PHASE.set(_phase)
            try:
                return await _original(self, *args, **kwargs)
            finally:
                PHASE.reset(token)

        setattr(CountingStore, method, wrapped)
    return CountingStore(runtime.db, runtime.embedder)


async def run(url: str, data_dir: Path, turns: int) -> int:
    from tertulia.bootstrap import run_bootstrap
    from tertulia.settings import Settings
    from tertulia.turns import inprocess
    from tertulia.wiring import build_runtime, close_runtime
    from tests.support.schema import reset_schema

    await asyncio.to_thread(reset_schema, url)
    settings = Settings(database_url=url, data_dir=data_dir, jwt_secret="turn-statements-" + "x" * 40,
                        rate_limits_enabled=False, llm_provider="fake")
    runtime = await build_runtime(settings)
    rows: list[tuple[str, dict[str, int], dict[str, int]]] = []
    try:
        creds = await run_bootstrap(runtime.db, pepper=settings.resolved_api_key_pepper())
        who = await inprocess.principal_for(runtime, creds.organization_id, creds.user_id)
        store = counting_store(runtime)
        counts = Counts()
        counts.attach(runtime.db.engine)
        first = (await inprocess.start_conversation(runtime, who, creds.service_id, is_test=True, store=store)).raise_for_error()
        rows.append(("create (opening turn)", *counts.take()))
        for k in range(1, turns + 1):
            (await inprocess.interact(runtime, who, first.conversation_id, f"Turn {k}, tell me more.", store=store)).raise_for_error()
            rows.append((f"interact #{k}", *counts.take()))
    finally:
        await close_runtime(runtime)
    print(f"database={url.split(':', 1)[0].split('+')[0]}  statements (commits) per turn, by TurnStore phase")
    print(f"  {'turn':24} {'load':>8} {'lease':>10} {'save':>10} {'other':>8}")
    for name, statements, commits in rows:
        cells = [f"{statements.get(p, 0)} ({commits.get(p, 0)})" for p in ("load", "lease", "save", "other")]
        print(f"  {name:24} {cells[0]:>8} {cells[1]:>10} {cells[2]:>10} {cells[3]:>8}")
    interacts = rows[1:]
    loads = {r[1].get("load", 0) for r in interacts[1:]}  # from the 2nd interact on: the same inputs to read
    saves = {r[2].get("save", 0) for r in rows}
    ok = len(loads) <= 1 and saves == {1}
    print(f"load statements per interact: {sorted(loads)} (constant: {len(loads) <= 1}); "
          f"commits per save: {sorted(saves)} (one transaction: {saves == {1}})")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--pg-database", default="tertulia_turn_statements")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tertulia-ts-") as tmp:
        try:
            with benchmark_database(args.database, args.pg_database, Path(tmp) / "ts.db") as url:
                return asyncio.run(run(url, Path(tmp), args.turns))
        except PostgresUnavailable as exc:
            print(f"PostgreSQL needed: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    raise SystemExit(main())
