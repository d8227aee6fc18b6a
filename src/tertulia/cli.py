"""The ``tertulia`` command: serve, bootstrap, migrate."""

from __future__ import annotations

import asyncio
import json
import logging

import typer
from rich.console import Console
from rich.panel import Panel

from tertulia.settings import get_settings

app = typer.Typer(help="tertulia: a self-hostable Classic Amigo API server.", no_args_is_help=True)
console = Console(stderr=True)


def _migrate() -> None:
    from tertulia.migrations import upgrade

    settings = get_settings()
    with console.status("Applying database migrations..."):
        upgrade(settings.database_url)


async def _has_organization() -> bool:
    from sqlalchemy import func, select

    from tertulia.core.db import Database
    from tertulia.organization.models import Organization

    db = Database(get_settings().database_url)
    try:
        async with db.sessions() as session:
            return bool(await session.scalar(select(func.count()).select_from(Organization)))
    finally:
        await db.dispose()


async def _bootstrap() -> dict:
    from tertulia.bootstrap import as_dict, run_bootstrap
    from tertulia.core.db import Database

    settings = get_settings()
    db = Database(settings.database_url)
    try:
        return as_dict(await run_bootstrap(db, pepper=settings.resolved_api_key_pepper()))
    finally:
        await db.dispose()


def _print_credentials(result: dict, base_url: str) -> None:
    org = result["organization_id"]
    lines = [
        f"organization_id  {org}",
        f"user_id          {result['user_id']}",
        f"api_key_id       {result['api_key_id']}",
        f"api_key          {result['api_key']}   (shown once: store it now)",
        f"service_id       {result['service_id']}",
        "",
        "Get a token:",
        f"  curl -s -X POST {base_url}/v1/{org}/user/signin_with_api_key \\",
        f"    -H 'x-api-key: <api_key>' -H 'x-api-key-id: {result['api_key_id']}' -H 'x-user-id: {result['user_id']}'",
        "Or with the official SDK:",
        f"  AmigoClient(api_key=..., api_key_id=..., user_id=..., organization_id='{org}', base_url='{base_url}')",
        "Or in the browser (sign in with the four values above):",
        f"  {base_url}/console",
    ]
    Console(width=max(len(line) for line in lines) + 6, soft_wrap=True).print(
        Panel("\n".join(lines), title="tertulia credentials", expand=False)
    )


@app.command()
def migrate() -> None:
    """Apply database migrations (also done by ``serve``)."""
    _migrate()
    console.print("[green]Database is up to date.[/green]")


@app.command()
def bootstrap(as_json: bool = typer.Option(False, "--json", help="Print one line of JSON as the last line.")) -> None:
    """Create (or find) an organization, an administrator with a new API key, and a demo service."""
    _migrate()
    result = asyncio.run(_bootstrap())
    if as_json:
        typer.echo(json.dumps(result))
    else:
        _print_credentials(result, get_settings().public_base_url)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Number of API processes (PostgreSQL recommended above 1)."),
    bootstrap_first_run: bool = typer.Option(
        True, "--bootstrap/--no-bootstrap", help="On an empty database, bootstrap and print credentials."
    ),
    job_worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Run a job worker inside each API process (else run `tertulia worker`)."
    ),
) -> None:
    """Run the API server (applies migrations first)."""
    import os

    import uvicorn

    os.environ["TERTULIA_JOBS_IN_PROCESS"] = "1" if job_worker else "0"
    _prepare_metrics(workers)

    from tertulia.observability.logs import configure_logging

    configure_logging()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    _migrate()
    if bootstrap_first_run and not asyncio.run(_has_organization()):
        _print_credentials(asyncio.run(_bootstrap()), f"http://{host}:{port}")
    elif bootstrap_first_run:
        console.print("Database already has an organization; run [bold]tertulia bootstrap[/bold] for a fresh API key.")
    # log_config=None: uvicorn's lines go through the root logger configured above (same format, request ids)
    uvicorn.run("tertulia.asgi:app", host=host, port=port, workers=workers, log_level="info", log_config=None)


def _prepare_metrics(workers: int) -> None:
    """Several API processes share their Prometheus counters through files in ``PROMETHEUS_MULTIPROC_DIR``: set
    (and emptied) under the data dir when the operator has not set it. Must happen before prometheus-client loads."""
    import os

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path and workers <= 1:
        return
    if not path:
        path = str((get_settings().data_dir / "prometheus-multiproc").resolve())
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    from tertulia.observability.metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir(path)


from tertulia.jobs.cli import register as _register_job_commands  # noqa: E402

_register_job_commands(app)

from tertulia.simulator.cli import register as _register_simulation_commands  # noqa: E402

_register_simulation_commands(app)

if __name__ == "__main__":
    app()
