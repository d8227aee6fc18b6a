"""``tertulia simulate run`` (a unit test set against the configured database and LLM, for CI) and ``tertulia
simulate from-conversation`` (a real conversation becomes a scenario).

``run`` creates a run exactly as ``create-simulation-unit-test-set-run`` does (as the user ``tertulia-cli``), runs
its jobs with an in-process worker scoped to the organization (other workers on the same database may take some;
the result is the same), shows a progress bar per unit test, prints the reliability table, writes JUnit XML and
exits 0 when every unit test passed at least ``--min-pass`` of its repetitions, 1 when not, 2 on a usage error.
Ctrl-C cancels the run (what finished is kept) and exits 130.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from tertulia.auth.principal import Principal
from tertulia.core.errors import ApiError
from tertulia.jobs.settings import JobSettings
from tertulia.jobs.worker import Worker
from tertulia.migrations import upgrade
from tertulia.organization.models import Organization
from tertulia.settings import get_settings
from tertulia.simulation import repository as repo
from tertulia.simulation import runs
from tertulia.simulation import schemas as s
from tertulia.simulation.models import CANCELLED, DONE, SimulationUnitTestSet, SimulationUnitTestSetRun
from tertulia.simulation.scenarios import create_scenario
from tertulia.simulation.settings import SimulationSettings
from tertulia.simulation.unit_test_schemas import CreateSimulationUnitTestSetRunRequest
from tertulia.simulator import report
from tertulia.simulator.artifacts import reliability_rows
from tertulia.simulator.drafting import draft_scenario
from tertulia.wiring import build_runtime, close_runtime

CLI_USER = "tertulia-cli"
console = Console(stderr=True)


class UsageError(Exception):
    pass


async def pick_org(session: Any, org: str | None) -> str:
    if org:
        if await session.get(Organization, org) is None:
            raise UsageError(f"Organization {org!r} does not exist.")
        return org
    ids = (await session.scalars(select(Organization.org_id).limit(2))).all()
    if len(ids) != 1:
        raise UsageError("Name the organization with --org (the database has " + (
            "none)." if not ids else "several)."))
    return ids[0]


def _migrate() -> None:
    upgrade(get_settings().database_url)


def cli_principal(org_id: str) -> Principal:
    return Principal(org_id=org_id, user_id=CLI_USER, role_id="", role_name="tertulia-cli")


async def _progress(runtime: Any, org_id: str, run_id: str, timeout: float, quiet: bool) -> None:
    """Follow the run until it is completed, one bar per unit test."""
    async with runtime.db.unit_of_work() as session:
        run = await repo.get(session, SimulationUnitTestSetRun, org_id, run_id)
    specs = run.unit_test_run_specs
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet) as progress:
        bars = {s["unit_test_id"]: progress.add_task(s.get("unit_test_name", s["unit_test_id"]), total=s["run_count"])
                for s in specs}
        deadline = time.monotonic() + timeout
        while True:
            async with runtime.db.unit_of_work() as session:
                run = await repo.get(session, SimulationUnitTestSetRun, org_id, run_id)
                items = await repo.run_items(session, org_id, [run_id])
            for unit_test_id, bar in bars.items():
                settled = sum(1 for i in items if i.unit_test_id == unit_test_id and i.status in (DONE, CANCELLED))
                progress.update(bar, completed=settled)
            if run.is_completed:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"The run did not finish within {timeout:g} s.")
            await asyncio.sleep(0.2)


async def run_set(
    set_name: str, *, k: int = 0, min_pass: float = 1.0, junit: Path | None = None, org: str | None = None,
    concurrency: int = 0, timeout: float = 3600.0, runtime: Any = None, quiet: bool = False,
) -> int:
    owned = runtime is None
    runtime = runtime or await build_runtime()
    try:
        async with runtime.db.unit_of_work() as session:
            org_id = await pick_org(session, org)
            found = await session.scalar(select(SimulationUnitTestSet).where(
                SimulationUnitTestSet.org_id == org_id, SimulationUnitTestSet.name == set_name,
                SimulationUnitTestSet.is_deleted.is_(False)))
            if found is None:
                raise UsageError(f"No unit test set named {set_name!r} in organization {org_id}.")
        settings = SimulationSettings()
        if concurrency:
            settings.concurrency = concurrency
        async with runtime.db.unit_of_work() as session:
            created = await runs.create_run(
                session, cli_principal(org_id), CreateSimulationUnitTestSetRunRequest(simulation_unit_test_set_id=found.id),
                min_runs=max(1, k), settings=settings,
            )
        run_id = created.simulation_unit_test_set_run_id
        console.print(f"Run [bold]{run_id}[/bold] of [bold]{set_name}[/bold] ({org_id})")
        worker = Worker(runtime, JobSettings(in_process=False, poll_seconds=0.2), org_id=org_id)
        worker_task = asyncio.create_task(worker.run_forever())
        started = time.monotonic()
        try:
            await _progress(runtime, org_id, run_id, timeout, quiet)
        except (asyncio.CancelledError, KeyboardInterrupt, TimeoutError) as exc:
            async with runtime.db.unit_of_work() as session:
                await runs.cancel_run(session, cli_principal(org_id), run_id)
            console.print(f"[yellow]Run cancelled ({type(exc).__name__}); finished conversations are kept.[/yellow]")
            return 130 if not isinstance(exc, TimeoutError) else 1
        finally:
            worker.stop()
            await asyncio.wait_for(worker_task, 30)
        elapsed = time.monotonic() - started
        async with runtime.db.unit_of_work() as session:
            run = await repo.get(session, SimulationUnitTestSetRun, org_id, run_id)
            items = await repo.run_items(session, org_id, [run_id])
        rows = reliability_rows(run, items, k or None)
        Console().print(report.table(rows, min_pass))
        if junit is not None:
            report.junit(junit, set_name, run, items, rows, elapsed)
            console.print(f"JUnit XML written to {junit}")
        outcome = report.verdict(rows, min_pass, run.status == "cancelled")
        if not outcome.ok:
            console.print(f"[red]Below --min-pass {min_pass:g}:[/red] " + ", ".join(r.name for r in outcome.below))
        return 0 if outcome.ok else 1
    except UsageError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    finally:
        if owned:
            await close_runtime(runtime)


async def from_conversation(conversation_id: str, *, org: str | None, edit: bool, as_json: bool, runtime: Any = None) -> int:
    owned = runtime is None
    runtime = runtime or await build_runtime()
    try:
        async with runtime.db.unit_of_work() as session:
            org_id = await pick_org(session, org)
            draft = await draft_scenario(session, runtime.llm, org_id, conversation_id,
                                         SimulationSettings().user_model)
        text = yaml.safe_dump(draft.as_dict(), sort_keys=False, allow_unicode=True, width=100)
        if edit:
            import click

            edited = click.edit(text, extension=".yaml")
            text = edited if edited is not None else text
        fields = yaml.safe_load(text) or {}
        body = s.CreateSimulationScenarioRequest(name=fields.get("name"), tags={}, initial_version=s.ScenarioVersionBody(
            objective=fields.get("objective"), instructions=fields.get("instructions"),
            initial_message_type=fields.get("initial_message_type"), conversation_starts_at=None))
        async with runtime.db.unit_of_work() as session:
            created = await create_scenario(session, cli_principal(org_id), body)
        result = {"simulation_scenario_id": created.simulation_scenario_id, **fields}
        typer.echo(json.dumps(result) if as_json else yaml.safe_dump(result, sort_keys=False, allow_unicode=True))
        return 0
    except (UsageError, ApiError, ValueError) as exc:
        console.print(f"[red]{getattr(exc, 'detail', exc)}[/red]")
        return 2
    finally:
        if owned:
            await close_runtime(runtime)


def register(app: typer.Typer) -> None:
    simulate = typer.Typer(help="Simulations: run unit test sets (CI), turn conversations into scenarios.",
                           no_args_is_help=True)
    app.add_typer(simulate, name="simulate")

    @simulate.command("run")
    def run_command(
        set_name: str = typer.Option(..., "--set", help="The unit test set's name."),
        k: int = typer.Option(0, "--k", help="Run every unit test at least k times and report pass^k (default: "
                                              "each test's run count)."),
        min_pass: float = typer.Option(1.0, "--min-pass", min=0.0, max=1.0,
                                       help="Every unit test must pass at least this share of its runs."),
        junit: Path = typer.Option(None, "--junit", help="Write JUnit XML here (one test case per conversation)."),
        org: str = typer.Option(None, "--org", help="Organization id (needed when the database has several)."),
        concurrency: int = typer.Option(0, help="Simulated conversations at once (default: "
                                                "TERTULIA_SIMULATION_CONCURRENCY or 2)."),
        timeout: float = typer.Option(3600.0, help="Cancel the run after this many seconds."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    ) -> None:
        """Run a unit test set now and report pass rate, pass^k and 95% intervals, flakiest first."""
        _migrate()
        try:
            code = asyncio.run(run_set(set_name, k=k, min_pass=min_pass, junit=junit, org=org,
                                       concurrency=concurrency, timeout=timeout, quiet=quiet))
        except KeyboardInterrupt:
            code = 130
        raise typer.Exit(code)

    @simulate.command("from-conversation")
    def from_conversation_command(
        conversation_id: str = typer.Argument(..., help="The conversation to learn from."),
        org: str = typer.Option(None, "--org", help="Organization id (needed when the database has several)."),
        edit: bool = typer.Option(True, "--edit/--no-edit", help="Open the draft in $EDITOR before saving it."),
        as_json: bool = typer.Option(False, "--json", help="Print the created scenario as one JSON line."),
    ) -> None:
        """Draft a scenario (objective, instructions) from a real conversation with the LLM, edit it, save it."""
        _migrate()
        raise typer.Exit(asyncio.run(from_conversation(conversation_id, org=org, edit=edit, as_json=as_json)))
