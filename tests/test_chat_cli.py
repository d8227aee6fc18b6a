"""``tertulia chat`` driven through a pseudo-terminal (pexpect), as a person types: against a running ``tertulia
serve`` with the scripted fake LLM, and in-process. The reply streams, the agent's actions are dimmed lines,
/insights, /finish, /new and /quit work, and the conversations really are finished on the server."""

from __future__ import annotations

import os
import re
import sys

import httpx
import pytest

from tertulia.engine.fakes import DEFAULT_REPLY
from tests.support.serve_process import serve_process, tertulia_command

pexpect = pytest.importorskip("pexpect", reason="pexpect drives the terminal (test extra)")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DIM = "\x1b[2m"
PROMPT = "you › "


def spawn(args: list[str], env: dict[str, str], cwd=None):
    command = tertulia_command()
    child = pexpect.spawn(command[0], [*command[1:], "chat", *args], env=env, cwd=cwd, encoding="utf-8",
                          timeout=90, dimensions=(40, 160))
    child.logfile_read = sys.stdout if os.environ.get("TERTULIA_CHAT_TEST_ECHO") else None
    return child


def said(child) -> str:
    """What the terminal showed up to the next prompt (ANSI kept)."""
    child.expect_exact(PROMPT)
    return child.before


def conversations(server, creds) -> list[dict]:
    base = f"{server.base_url}/v1/{creds.organization_id}"
    token = httpx.post(f"{base}/user/signin_with_api_key", headers={
        "x-api-key": creds.api_key, "x-api-key-id": creds.api_key_id, "x-user-id": creds.user_id}).json()["id_token"]
    found = httpx.get(f"{base}/conversation/", params={"service_id": creds.service_id},
                      headers={"Authorization": f"Bearer {token}"})
    return found.json()["conversations"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_process(tmp_path_factory.mktemp("chat")) as served:
        yield served


def test_chat_with_the_demo_service_on_a_running_server(server):
    creds = server.credentials
    env = {**server.env, "AMIGO_ORGANIZATION_ID": creds.organization_id, "AMIGO_USER_ID": creds.user_id,
           "AMIGO_API_KEY_ID": creds.api_key_id, "AMIGO_API_KEY": creds.api_key, "TERM": "xterm-256color"}
    child = spawn(["--base-url", server.base_url], env)
    opening = said(child)
    plain = ANSI.sub("", opening)
    assert f"tertulia chat on {server.base_url} (running server)" in plain
    assert "New conversation with Tertulia demo (Nia)" in plain
    assert f"Nia › {DEFAULT_REPLY}" in plain
    assert DIM in opening and "· action: Introduce yourself as Nia" in plain  # the action, dimmed

    child.sendline("I have chest pain and I can't breathe.")  # word for word one of the safety triggers
    turn = said(child)
    plain = ANSI.sub("", turn)
    assert f"Nia › {DEFAULT_REPLY}" in plain
    assert re.search(r"\x1b\[2m\s*· behavior: Safety - self-harm or medical emergency \(v1\)", turn), turn
    assert plain.index("· behavior:") < plain.index("Nia ›")  # actions come beside the reply, before it streams

    child.sendline("/insights")
    plain = ANSI.sub("", said(child))
    assert "insights of the last interaction" in plain and re.search(r"state\s+welcome", plain)
    assert re.search(r"behavior\s+Safety - self-harm or medical emergency \(v1\)", plain)

    [first] = conversations(server, creds)
    child.sendline("/new")
    plain = ANSI.sub("", said(child))
    assert f"Conversation {first['id']} finished." in plain and "New conversation with Tertulia demo" in plain

    child.sendline("/finish")
    plain = ANSI.sub("", said(child))
    assert "finished." in plain
    child.sendline("hello?")
    assert "This conversation is finished: /new to start another." in ANSI.sub("", said(child))

    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    listed = conversations(server, creds)
    assert len(listed) == 2 and all(c["is_finished"] for c in listed)


def test_chat_resumes_an_open_conversation_and_runs_in_process(tmp_path):
    """No --base-url: the server runs inside the chat process, on ./tertulia.db, with a fresh bootstrap key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TERTULIA_", "AMIGO_"))}
    env.update(TERTULIA_LLM_PROVIDER="fake", TERTULIA_RATE_LIMITS_ENABLED="false", TERM="xterm-256color")
    child = spawn([], env, cwd=str(tmp_path))
    plain = ANSI.sub("", said(child))
    assert "(in-process), credentials from a new bootstrap key on" in plain and str(tmp_path) in plain
    assert f"Nia › {DEFAULT_REPLY}" in plain
    child.sendline("Let's plan.")
    said(child)
    child.sendcontrol("d")  # leave with the conversation open
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "left open" in ANSI.sub("", child.before)

    again = spawn([], env, cwd=str(tmp_path))
    plain = ANSI.sub("", said(again))
    assert "Resuming conversation" in plain and "you: Let's plan." in plain and f"Nia: {DEFAULT_REPLY}" in plain
    again.sendline("/unknown")
    assert "Unknown command /unknown" in ANSI.sub("", said(again))
    again.sendline("/quit")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 0
