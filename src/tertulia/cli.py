"""The ``tertulia`` command: serve, bootstrap, migrate, chat."""

from __future__ import annotations

import asyncio
import json
import logging

import typer
from rich.console import Console

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
    from tertulia.first_run import print_credentials

    settings = get_settings()
    print_credentials(result, base_url, settings.database_url, settings.data_dir)


def _database():
    from tertulia.first_run import describe_database

    return describe_database(get_settings().database_url)


@app.command()
def migrate() -> None:
    """Apply database migrations (also done by ``serve``)."""
    _migrate()
    console.print("[green]Database is up to date.[/green]")


@app.command()
def bootstrap(as_json: bool = typer.Option(False, "--json", help="Print one line of JSON as the last line.")) -> None:
    """Create (or find) an organization, an administrator with a new API key, and a demo service."""
    from tertulia.first_run import new_sqlite_warning

    db = _database()
    created = db.sqlite_file is not None and not db.sqlite_file.exists()
    _migrate()
    result = asyncio.run(_bootstrap())
    if as_json:
        typer.echo(json.dumps(result))
        console.print(f"database: {db.label}", highlight=False, soft_wrap=True)  # stderr: stdout stays one JSON line
    else:
        _print_credentials(result, get_settings().public_base_url)
    if created:
        console.print(f"[bold yellow]Warning:[/bold yellow] {new_sqlite_warning(db)}", highlight=False, soft_wrap=True)


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
        local_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        _print_credentials(asyncio.run(_bootstrap()), f"http://{local_host}:{port}")
    elif bootstrap_first_run:
        console.print(f"Database {_database().label} already has an organization; run [bold]tertulia bootstrap[/bold] "
                      "(in this directory, or with the same TERTULIA_DATABASE_URL) for a fresh API key.",
                      highlight=False, soft_wrap=True)
    # log_config=None: uvicorn's lines go through the root logger configured above (same format, request ids)
    uvicorn.run("tertulia.asgi:app", host=host, port=port, workers=workers, log_level="info", log_config=None)


@app.command()
def chat(
    service: str = typer.Option(None, "--service", "-s", help="Service id or name (default: the demo service)."),
    base_url: str = typer.Option(None, "--base-url", envvar="AMIGO_BASE_URL",
                                 help="A running server (e.g. http://127.0.0.1:8000); default: serve in-process."),
    org: str = typer.Option(None, "--org", help="Organization id (else AMIGO_ORGANIZATION_ID, else bootstrap)."),
    user_id: str = typer.Option(None, "--user-id", help="User id (else AMIGO_USER_ID, else bootstrap)."),
    api_key_id: str = typer.Option(None, "--api-key-id", help="API key id (else AMIGO_API_KEY_ID, else bootstrap)."),
    api_key: str = typer.Option(None, "--api-key", help="API key (else AMIGO_API_KEY, else a new bootstrap key)."),
) -> None:
    """Chat with a service in the terminal: the reply streams, the agent's actions show dimmed beside it;
    /insights, /finish, /new, /quit."""
    from contextlib import nullcontext

    from rich.console import Console as RichConsole

    from tertulia.chat.api import ChatApi, ChatError
    from tertulia.chat.local import local_server, resolve_credentials
    from tertulia.chat.session import ChatSession

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    out = RichConsole(highlight=False)
    credentials, source = resolve_credentials(
        {"organization_id": org, "user_id": user_id, "api_key_id": api_key_id, "api_key": api_key})
    with nullcontext(base_url) if base_url else local_server() as url:
        out.print(f"[dim]tertulia chat on {url} ({'running server' if base_url else 'in-process'}), "
                  f"credentials from {source}[/dim]", soft_wrap=True)
        api = ChatApi(url, credentials)
        try:
            ChatSession(api, out, service).loop()
        except ChatError as exc:
            out.print(f"[bold red]{exc}[/bold red]", soft_wrap=True, markup=True)
            raise typer.Exit(1) from exc
        finally:
            api.close()


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


from tertulia.worker_cli import register as _register_job_commands  # noqa: E402


def _prepare_worker() -> None:
    from tertulia.observability.logs import configure_logging

    configure_logging()
    _migrate()


_register_job_commands(app, _prepare_worker)

from tertulia.simulator.cli import register as _register_simulation_commands  # noqa: E402

_register_simulation_commands(app)

if __name__ == "__main__":
    app()
