"""The first ten minutes, as a new user runs them: ``tertulia serve`` on an empty database prints the real key, a
sign-in line and a start-a-conversation line that work as pasted, and the absolute paths of the database and data
directory; ``tertulia bootstrap`` says which database it used and warns when it made a new SQLite file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.serve_process import free_port, tertulia_command

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _env(**extra: str) -> dict[str, str]:
    """No TERTULIA_DATABASE_URL / _DATA_DIR: the defaults (./tertulia.db, ./.tertulia) of the working directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update(TERTULIA_LLM_PROVIDER="fake", TERTULIA_RATE_LIMITS_ENABLED="false", COLUMNS="80", **extra)
    return env


def _bootstrap(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*tertulia_command(), "bootstrap", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done


def _field(out: str, name: str) -> str:
    match = re.search(rf"{name}\s+(\S+)", ANSI.sub("", out))
    assert match, out
    return match.group(1)


def test_bootstrap_names_its_database_and_warns_when_it_creates_one(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = _bootstrap(elsewhere)
    out, err = ANSI.sub("", first.stdout), ANSI.sub("", first.stderr)
    db, data = (elsewhere / "tertulia.db").resolve(), (elsewhere / ".tertulia").resolve()
    assert f"database         {db}  (SQLite)" in out and f"data directory   {data}" in out
    assert f"No database existed at {db}" in " ".join(err.split())  # the warning, on stderr
    key = _field(out, "api_key ")
    assert f"-H 'x-api-key: {key}'" in out and "<api_key>" not in out  # the real key, shown once anyway

    again = _bootstrap(elsewhere)
    assert "No database existed" not in again.stderr and f"{db}" in again.stdout
    assert _field(again.stdout, "api_key ") != key

    as_json = _bootstrap(elsewhere, "--json")
    assert as_json.stdout.strip().splitlines()[-1].startswith("{")  # stdout stays one JSON line for scripts
    assert f"database: {db}" in " ".join(as_json.stderr.split())


@pytest.mark.skipif(shutil.which("curl") is None, reason="the printed commands use curl")
def test_first_start_prints_commands_that_work_as_pasted(tmp_path):
    port = free_port()
    out_path = tmp_path / "serve.out"
    with open(out_path, "wb") as out, open(tmp_path / "serve.err", "wb") as err:
        server = subprocess.Popen([*tertulia_command(), "serve", "--port", str(port), "--no-worker"], cwd=tmp_path,
                                  env=_env(), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        text = ""
        while time.time() < deadline and "curl -sN" not in text:
            assert server.poll() is None, (tmp_path / "serve.err").read_text()
            time.sleep(0.3)
            text = ANSI.sub("", out_path.read_text())
        lines = text.splitlines()
        sign_in = next(line for line in lines if line.startswith("TOKEN=$(curl"))
        start = next(line for line in lines if line.startswith("curl -sN"))
        assert f"http://127.0.0.1:{port}/v1/tertulia/user/signin_with_api_key" in sign_in
        assert _field(text, "service_id ") in start and _field(text, "api_key ") in sign_in
        assert f"{(tmp_path / 'tertulia.db').resolve()}  (SQLite)" in text
        assert f"data directory   {(tmp_path / '.tertulia').resolve()}" in text
        assert "tertulia chat" in text

        _wait_healthy(port)
        done = subprocess.run(["bash", "-c", f"set -e\n{sign_in}\n{start}"], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        events = [line for line in done.stdout.splitlines() if line.strip()]
        assert '"type":"conversation-created"' in events[0].replace(" ", "")
        assert any('"type":"interaction-complete"' in e.replace(" ", "") for e in events), done.stdout

        bad = subprocess.run(["bash", "-c", sign_in.replace("x-api-key: ", "x-api-key: x")], capture_output=True,
                             text=True, timeout=30)
        assert bad.returncode != 0 and "detail" in bad.stderr  # a wrong key shows the server's reason
    finally:
        server.terminate()
        server.wait(20)


def _wait_healthy(port: int) -> None:
    import httpx

    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("server not healthy")
