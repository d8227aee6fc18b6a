"""The README's SDK snippet, taken from README.md as written and run as a script (twice in a row) against a live
server with the demo service; and the README's way to see a streamed error body the SDK drops."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tertulia.core.db import Database
from tertulia.engine.fakes import DEFAULT_REPLY

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def snippet(marker: str) -> str:
    return next(block for block in python_blocks() if marker in block)


def configured(code: str, base_url: str, tenant, service_id: str) -> str:
    """The README's placeholder lines, filled the way a user fills them from the first-start output."""
    constants = (f'BASE_URL, ORG_ID = "{base_url}", "{tenant.org_id}"\n'
                 f'API_KEY, API_KEY_ID, USER_ID, SERVICE_ID = "{tenant.api_key}", "{tenant.api_key_id}", '
                 f'"{tenant.user_id}", "{service_id}"\n')
    code = re.sub(r'^BASE_URL, ORG_ID = .*\n', "", code, flags=re.M)
    code = re.sub(r'^API_KEY, API_KEY_ID, USER_ID, SERVICE_ID = .*\n', "", code, flags=re.M)
    return constants + code


@pytest.fixture
def demo(live_server, sdk_tenant) -> str:
    from tertulia.demo import install_demo_service

    async def install() -> str:
        db = Database(live_server.db.url)
        try:
            async with db.unit_of_work() as session:
                return await install_demo_service(session, sdk_tenant.org_id,
                                                  {"org_id": sdk_tenant.org_id, "user_id": sdk_tenant.user_id})
        finally:
            await db.dispose()

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(install())
    finally:
        loop.close()


def run_script(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    path = tmp_path / "snippet.py"
    path.write_text(code)
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)


def test_snippet_prints_the_streamed_reply_and_runs_twice(live_server, sdk_tenant, demo, tmp_path):
    """Even after a conversation was left open (as the first-start curl line leaves one)."""
    from amigo_sdk.generated.model import ConversationCreateConversationRequest, CreateConversationParametersQuery

    from tests.support.sdk import sdk_client

    with sdk_client(live_server.base_url, sdk_tenant) as amigo:
        list(amigo.conversations.create_conversation(
            ConversationCreateConversationRequest(service_id=demo, service_version_set_name="release"),
            CreateConversationParametersQuery(response_format="text")))
    code = configured(snippet("AmigoClient("), live_server.base_url, sdk_tenant, demo)
    for attempt in (1, 2):
        done = run_script(tmp_path, code)
        assert done.returncode == 0, f"run {attempt}: {done.stderr}"
        lines = done.stdout.splitlines()
        assert lines == [DEFAULT_REPLY, "> I would like to read more this week.", DEFAULT_REPLY], done.stdout


def test_readme_way_to_see_a_streamed_error_body(live_server, sdk_tenant, demo, tmp_path):
    from amigo_sdk.errors import BadRequestError
    from amigo_sdk.generated.model import ConversationCreateConversationRequest, CreateConversationParametersQuery

    from tests.support.sdk import sdk_client

    body = ConversationCreateConversationRequest(service_id=demo, service_version_set_name="release")
    query = CreateConversationParametersQuery(response_format="text")
    with sdk_client(live_server.base_url, sdk_tenant) as amigo:
        created = [e.root for e in amigo.conversations.create_conversation(body, query)]
        conversation_id = created[0].conversation_id
        try:
            with pytest.raises(BadRequestError) as hidden:  # what the README says the SDK does
                list(amigo.conversations.create_conversation(body, query))
            assert hidden.value.response_body is None and "unfinished" not in str(hidden.value)

            done = run_script(tmp_path, configured(snippet("signin_with_api_key"), live_server.base_url,
                                                   sdk_tenant, demo))
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith("400 ") and "unfinished conversation" in done.stdout
        finally:
            amigo.conversations.finish_conversation(conversation_id)
