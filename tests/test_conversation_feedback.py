"""Seed 002's feedback endpoints and simulate-an-interaction (not in the OpenAPI; paths as the seed gives them)."""

from __future__ import annotations

from sqlalchemy import func, select

from tertulia.conversation.models import Interaction, Message
from tests.support.conversation import events_of, interact, make_service, start
from tests.test_conversation_queries import add_user


async def test_conversation_and_interaction_feedback(client, tenant, runtime):
    svc = await make_service(client, tenant)
    h = tenant.headers
    cid, events = await start(client, tenant, svc.service_id)
    iid = events[-1]["interaction_id"]

    r = await client.post(tenant.url(f"/conversation/{cid}/feedback"), json={"comment": "Great chat"}, headers=h)
    assert r.status_code == 200, r.text
    cfid = r.json()["conversation_feedback_id"]
    assert (await client.post(tenant.url(f"/conversation/{cid}/feedback"), json={"comment": " "}, headers=h)).status_code == 422
    assert (await client.post(tenant.url(f"/conversation/{cid}/feedback/{cfid}"), json={"feedback": "Even better"},
                              headers=h)).status_code == 204

    r = await client.post(tenant.url(f"/conversation/{cid}/interaction/{iid}/feedback"),
                          json={"feedback": {"type": "interaction_comment", "comment": "Too long"}}, headers=h)
    assert r.status_code == 200, r.text
    ifid = r.json()["interaction_feedback_id"]
    bad = await client.post(tenant.url(f"/conversation/{cid}/interaction/{'a' * 24}/feedback"),
                            json={"feedback": {"type": "interaction_comment", "comment": "x"}}, headers=h)
    assert bad.status_code == 404
    upd = tenant.url(f"/conversation/{cid}/interaction/{iid}/feedback/{ifid}")
    assert (await client.post(upd, json={"feedback": {"type": "interaction_comment", "comment": "Too long!",
                                                      "resolved": True}}, headers=h)).status_code == 204
    changed = await client.post(upd, json={"feedback": {"type": "interaction_comment", "comment": "Other",
                                                         "resolved": True}}, headers=h)
    assert changed.status_code == 400  # a resolved comment cannot change

    conv_list = (await client.get(tenant.url(f"/conversation/feedback/?type=conversation&conversation_id={cid}"),
                                  headers=h)).json()
    [cf] = conv_list["feedbacks"]
    assert cf["id"] == cfid and cf["feedback_content"] == {"type": "conversation", "comment": "Even better"}
    assert cf["user_id"] == tenant.user_id and cf["user_org_id"] == tenant.org_id and conv_list["has_more"] is False
    inter = (await client.get(tenant.url(f"/conversation/feedback/?type=interaction&interaction_id={iid}"
                                         "&sort_by=-feedback_content.interaction_id"), headers=h)).json()
    [itf] = inter["feedbacks"]
    assert itf["feedback_content"] == {"type": "interaction_comment", "interaction_id": iid, "comment": "Too long!",
                                       "resolved": True}
    assert (await client.get(tenant.url("/conversation/feedback/?type=other"), headers=h)).status_code == 422
    assert (await client.get(tenant.url("/conversation/feedback/?type=conversation&limit=51"), headers=h)).status_code == 422

    # an end user without the feedback permissions: 403 on writes, nothing listed
    user = await add_user(client, runtime, tenant)
    assert (await client.post(tenant.url(f"/conversation/{cid}/feedback"), json={"comment": "x"},
                              headers=user.headers)).status_code == 403
    seen = (await client.get(tenant.url("/conversation/feedback/?type=conversation"), headers=user.headers)).json()
    assert seen["feedbacks"] == []

    assert (await client.delete(tenant.url(f"/conversation/{cid}/feedback/{cfid}"), headers=h)).status_code == 204
    assert (await client.delete(tenant.url(f"/conversation/{cid}/feedback/{cfid}"), headers=h)).status_code == 404
    assert (await client.delete(upd, headers=h)).status_code == 204
    empty = (await client.get(tenant.url("/conversation/feedback/?type=interaction"), headers=h)).json()
    assert empty["feedbacks"] == []


async def test_simulate_interaction_persists_nothing(client, tenant, runtime):
    svc = await make_service(client, tenant)
    h = tenant.headers
    cid, _ = await start(client, tenant, svc.service_id)
    iid = events_of(await interact(client, tenant, cid, "How do I sleep better?"))[-1]["interaction_id"]

    async def counts() -> tuple[int, int]:
        async with runtime.db.sessions() as s:
            return (await s.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == cid)),
                    await s.scalar(select(func.count()).select_from(Interaction).where(Interaction.conversation_id == cid)))

    before = await counts()
    runtime.llm.script_text("EngageUser", "Try a regular bedtime.")
    url = tenant.url(f"/conversation/{cid}/interaction/{iid}/simulate")
    r = await client.post(url, json={"agent_version_override": {"background": "A sleep coach."}}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"agent_message": "Try a regular bedtime.", "conversation_ended": False}
    engage = [q for q in runtime.llm.requests if q.interaction == "EngageUser"][-1]
    rendered = " ".join(m.content for m in engage.messages)
    assert "A sleep coach." in rendered and "How do I sleep better?" in rendered
    assert await counts() == before
    # an exit to the terminal state ends the simulated conversation (and still persists nothing)
    runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})
    r = await client.post(url, json={}, headers=h)
    assert r.status_code == 200 and r.json()["conversation_ended"] is True
    assert (await client.post(tenant.url(f"/conversation/{cid}/interaction/{'a' * 24}/simulate"), headers=h)).status_code == 404
    assert await counts() == before
