"""Prompt logs through the real API: captured for every LLM call of a turn when retention is on (secrets and the
user's sensitive variables redacted), downloaded as the spec's zip with ``get-prompt-logs`` under its permission,
absent when retention is off, and purged past the retention by the job through the queue."""

from __future__ import annotations

import io
import secrets
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tertulia.auth.permissions import grant
from tertulia.core.clock import utcnow
from tertulia.jobs.queue import enqueue_job
from tertulia.jobs.registry import periodic_kinds
from tertulia.prompt_log.jobs import PURGE
from tertulia.prompt_log.models import PromptLog
from tests.support.conversation import interact, make_service, start
from tests.support.postprocessing import drain

SECRET_VALUE = "policy-" + secrets.token_hex(6)


@pytest.fixture
def retention(monkeypatch):
    monkeypatch.setenv("TERTULIA_PROMPT_LOG_RETENTION_DAYS", "7")


async def download(client, tenant, prefix: str, headers=None):
    return await client.get(tenant.url("/admin/get_prompt_logs/"), params={"prompt_log_prefix": prefix},
                            headers=headers or tenant.headers)


def files_of(response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


async def a_turn(client, tenant) -> tuple[str, str]:
    ready = await make_service(client, tenant)
    r = await client.post(tenant.url(f"/user/{tenant.user_id}/variable"), headers=tenant.headers, json={
        "upserts": [{"name": "insurance_policy", "value": SECRET_VALUE, "is_secret": True}], "deletes": []})
    assert r.status_code == 204, r.text
    conversation_id, _ = await start(client, tenant, ready.service_id)
    r = await interact(client, tenant, conversation_id,
                       f"My policy number is {SECRET_VALUE} and my key is sk-abcdefghijklmnopqrstuvwx. Help?")
    assert r.status_code == 200 and '"interaction-complete"' in r.text, r.text
    interaction_id = [line for line in r.text.splitlines() if "interaction-complete" in line][0].split(
        '"interaction_id":"')[1].split('"')[0]
    return conversation_id, interaction_id


async def test_every_llm_call_of_a_turn_is_logged_redacted_and_downloadable(client, tenant, other_tenant, runtime,
                                                                             retention):
    conversation_id, interaction_id = await a_turn(client, tenant)
    files = files_of(await download(client, tenant, f"{conversation_id}/{interaction_id}"))
    keys = sorted({name.rsplit("-", 1)[0] for name in files})
    assert keys == [f"{conversation_id}/{interaction_id}/01-SelectNextAction",
                    f"{conversation_id}/{interaction_id}/02-EngageUser"], sorted(files)
    reply_key = keys[1]
    system, history = files[f"{reply_key}-system"], files[f"{reply_key}-history"]
    assert system.strip() and "---" not in system
    entries = history.split("\n---\n")
    assert entries[-1].startswith("output:\n") and len(entries[-1]) > len("output:\n")
    assert any(e.startswith("user:\n") and "My policy number is [redacted]" in e for e in entries)
    everything = "".join(files.values())
    assert SECRET_VALUE not in everything and "sk-abcdefghijklmnopqrstuvwx" not in everything
    decision = files[f"{keys[0]}-history"].split("\n---\n")[-1]
    assert decision.startswith("output:\n{")  # the decision's raw JSON output

    whole = files_of(await download(client, tenant, conversation_id))  # both turns of the conversation
    assert len({name.rsplit("-", 1)[0] for name in whole}) == 4
    assert (await download(client, tenant, "f" * 24)).status_code == 404
    assert (await download(client, other_tenant, conversation_id, other_tenant.headers)).status_code == 404
    missing = await client.get(tenant.url("/admin/get_prompt_logs/"), headers=tenant.headers)
    assert missing.status_code == 422
    async with runtime.db.sessions() as session:
        stored = (await session.scalars(select(PromptLog).where(PromptLog.interaction_id == interaction_id))).all()
    assert all(SECRET_VALUE not in (row.output + row.system_prompt + str(row.history)) for row in stored)


async def test_permission_per_log(client, tenant, runtime, retention):
    from tests.test_conversation_queries import add_user

    conversation_id, _ = await a_turn(client, tenant)
    plain = await add_user(client, runtime, tenant)  # DefaultUserRole: no insights permission at all
    assert (await download(client, tenant, conversation_id, plain.headers)).status_code == 403
    own_only = await add_user(client, runtime, tenant, grants=[
        grant("Conversation:GetInteractionInsights", {"user_id": {"type": "Equals", "value": "@me"}})])
    files = files_of(await download(client, tenant, conversation_id, own_only.headers))
    assert files and all(name.endswith("-error") for name in files)
    assert all("Missing required permission Conversation:GetInteractionInsights" in text for text in files.values())


async def test_nothing_is_logged_with_retention_off(client, tenant, runtime, monkeypatch):
    monkeypatch.delenv("TERTULIA_PROMPT_LOG_RETENTION_DAYS", raising=False)
    ready = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, ready.service_id)
    assert (await download(client, tenant, conversation_id)).status_code == 404
    async with runtime.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PromptLog).where(
            PromptLog.conversation_id == conversation_id)) == 0


async def test_purge_job_removes_logs_past_the_retention(client, tenant, runtime, retention):
    assert PURGE in periodic_kinds()
    conversation_id, interaction_id = await a_turn(client, tenant)
    async with runtime.db.sessions() as session:  # age the opening turn's logs past the 7 days
        await session.execute(update(PromptLog).where(PromptLog.conversation_id == conversation_id,
                                                      PromptLog.interaction_id != interaction_id)
                              .values(created_at=utcnow() - timedelta(days=8)))
        await enqueue_job(session, PURGE, {}, org_id=tenant.org_id)  # scoped so this test's drain runs it
        await session.commit()
    await drain(runtime, tenant.org_id)
    async with runtime.db.sessions() as session:
        left = (await session.scalars(select(PromptLog.interaction_id).where(
            PromptLog.conversation_id == conversation_id))).all()
    assert left and set(left) == {interaction_id}
    files = files_of(await download(client, tenant, conversation_id))
    assert all(f"/{interaction_id}/" in name for name in files)


async def test_at_most_1000_logs_and_30_days(client, tenant, runtime):
    conversation_id = "a" * 24
    async with runtime.db.sessions() as session:
        session.add_all([PromptLog(org_id=tenant.org_id, conversation_id=conversation_id, interaction_id=f"{i:024x}",
                                   log_key=f"{conversation_id}/{i:024x}/01-EngageUser", sequence=1,
                                   interaction_name="EngageUser", model="m", resource={"user_id": tenant.user_id},
                                   system_prompt="s", history=[["user", "u"]], output="o") for i in range(1001)])
        await session.commit()
    too_many = await download(client, tenant, conversation_id)
    assert too_many.status_code == 422 and "1001" in too_many.text
    one = files_of(await download(client, tenant, f"{conversation_id}/{0:024x}"))
    assert sorted(one) == [f"{conversation_id}/{0:024x}/01-EngageUser-history", f"{conversation_id}/{0:024x}/01-EngageUser-system"]
    assert one[f"{conversation_id}/{0:024x}/01-EngageUser-history"] == "user:\nu\n---\noutput:\no"
    async with runtime.db.sessions() as session:  # older than the spec's 30-day window: no longer served
        await session.execute(update(PromptLog).where(PromptLog.conversation_id == conversation_id)
                              .values(created_at=utcnow() - timedelta(days=31)))
        await session.commit()
    assert (await download(client, tenant, f"{conversation_id}/{0:024x}")).status_code == 404
