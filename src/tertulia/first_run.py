"""What ``tertulia serve`` (first start) and ``tertulia bootstrap`` print: the credentials, two commands that work
as pasted (sign in with the real key, then start a conversation with the demo service), and the absolute paths of
the database and data directory in use — so a second ``tertulia.db`` made by running in another directory is seen.

The commands are printed as plain lines outside the panel, so they copy without box characters or wrapping.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class DatabaseInfo:
    label: str  # what to show: the SQLite file's absolute path, or the URL without its password
    sqlite_file: Path | None  # None for a server database (PostgreSQL) or in-memory SQLite


def describe_database(url: str) -> DatabaseInfo:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database or ""
        if not name or name == ":memory:" or name.startswith("file:"):
            return DatabaseInfo(f"SQLite in memory ({url})", None)
        path = Path(name).expanduser().resolve()
        return DatabaseInfo(f"{path}  (SQLite)", path)
    return DatabaseInfo(parsed.render_as_string(hide_password=True), None)


def sign_in_command(result: dict, base_url: str) -> str:
    url = f"{base_url}/v1/{result['organization_id']}/user/signin_with_api_key"
    headers = " ".join(
        f"-H {shlex.quote(f'{name}: {result[key]}')}"
        for name, key in (("x-api-key", "api_key"), ("x-api-key-id", "api_key_id"), ("x-user-id", "user_id"))
    )
    # prints the token, or the server's error body on stderr
    extract = "python3 -c 'import json,sys; r=json.load(sys.stdin); print(r.get(\"id_token\") or sys.exit(r))'"
    return f"TOKEN=$(curl -s -X POST {url} {headers} | {extract})"


def start_conversation_command(result: dict, base_url: str) -> str:
    url = f"{base_url}/v1/{result['organization_id']}/conversation/?response_format=text"
    body = f'{{"service_id": "{result["service_id"]}", "service_version_set_name": "release"}}'
    return (f"curl -sN -X POST {shlex.quote(url)} -H \"Authorization: Bearer $TOKEN\" "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")


def print_credentials(result: dict, base_url: str, database_url: str, data_dir: Path,
                      console: Console | None = None) -> None:
    db = describe_database(database_url)
    lines = [
        f"organization_id  {result['organization_id']}",
        f"user_id          {result['user_id']}",
        f"api_key_id       {result['api_key_id']}",
        f"api_key          {result['api_key']}   (shown once: store it now)",
        f"service_id       {result['service_id']}   (the demo service, src/tertulia/demo/demo_service.yaml)",
        f"database         {db.label}",
        f"data directory   {Path(data_dir).expanduser().resolve()}",
    ]
    out = console or Console(width=max(len(line) for line in lines) + 6, soft_wrap=True)
    out.print(Panel("\n".join(lines), title="tertulia credentials", expand=False), crop=False)
    out.print("1. Sign in (id tokens expire, after an hour by default: run it again for a fresh one):", highlight=False)
    out.print(sign_in_command(result, base_url), markup=False, highlight=False, crop=False)
    out.print("2. Start a conversation with the demo service (the agent's first message streams as NDJSON):",
              highlight=False)
    out.print(start_conversation_command(result, base_url), markup=False, highlight=False, crop=False)
    out.print("Or chat in this terminal: tertulia chat", highlight=False)
    out.print(f"Or in the browser (sign in with the values above): {base_url}/console", highlight=False, crop=False)


def new_sqlite_warning(db: DatabaseInfo) -> str:
    return (f"No database existed at {db.sqlite_file}: this command created a new one there, with its own organization and key. A server started "
            "from another directory uses that directory's ./tertulia.db — run `tertulia bootstrap` where the server "
            "runs, or set TERTULIA_DATABASE_URL to the server's database (an absolute sqlite+aiosqlite:////path).")
