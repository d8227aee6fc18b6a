"""The official SDK drives the conversation API unchanged; /openapi.json lists every conversation operation as the
reference spec does."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from amigo_sdk.errors import ConflictError, NotFoundError
from amigo_sdk.generated.model import (
    ConversationCreateConversationRequest,
    ConversationGenerateConversationStarterRequest,
    CreateConversationParametersQuery,
    GetConversationMessagesParametersQuery,
    GetConversationsParametersQuery,
    InteractWithConversationParametersQuery,
)

from tests.support.conversation import make_service
from tests.support.orgs import sign_in
from tests.support.reference import reference_spec
from tests.support.sdk import sdk_client

IGNORED_HEADERS = {"x-mongo-cluster-name", "sec-websocket-protocol"}


def _params(op: dict) -> dict[tuple[str, str], bool]:
    return {(p["in"], p["name"].lower()): bool(p.get("required")) for p in op.get("parameters", [])
            if p["name"].lower() not in IGNORED_HEADERS}


async def test_openapi_lists_conversation_operations(client):
    spec = reference_spec()  # skips without ../shared
    ours = (await client.get("/openapi.json")).json()["paths"]
    checked = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if op.get("tags", [None])[0] != "Conversation" and "/conversation" not in path:
                continue
            assert path in ours and method in ours[path], f"{method.upper()} {path} missing"
            mine = ours[path][method]
            assert mine["operationId"] == op["operationId"]
            expected, got = _params(op), _params(mine)
            missing = {k: v for k, v in expected.items() if k not in got}
            assert not missing, f"{op['operationId']}: missing parameters {missing}"
            assert all(got[k] == v for k, v in expected.items()), f"{op['operationId']}: required flags differ"
            assert set(got) - set(expected) <= {("query", "emit_current_agent_action_event")}, op["operationId"]
            for code in op["responses"]:
                if code.startswith("2"):
                    assert code in mine["responses"], f"{op['operationId']}: success status {code}"
            checked += 1
    assert checked == 10


def _read_until_complete(stream) -> list:
    events = []
    for event in stream:
        root = getattr(event, "root", event)
        events.append(root)
        assert root.type != "error", root
        if root.type == "interaction-complete":
            break
    return events


def test_conversation_through_sdk(live_server, sdk_tenant):
    async def prepare() -> str:
        async with httpx.AsyncClient(base_url=live_server.base_url) as c:
            sdk_tenant.token = await sign_in(c, sdk_tenant, sdk_tenant.user_id)
            return (await make_service(c, sdk_tenant, name="Sdk chat")).service_id

    service_id = asyncio.run(prepare())
    with sdk_client(live_server.base_url, sdk_tenant) as amigo:
        conv = amigo.conversations
        # pre-suite of the SDK's own integration test: finish leftovers
        leftovers = conv.get_conversations(GetConversationsParametersQuery(
            service_id=[service_id], is_finished=False, limit=25, sort_by=["-created_at"]))
        assert leftovers.conversations == []

        created = _read_until_complete(conv.create_conversation(
            ConversationCreateConversationRequest(service_id=service_id, service_version_set_name="release"),
            CreateConversationParametersQuery(response_format="text")))
        assert created[0].type == "conversation-created"
        assert any(e.type == "new-message" for e in created) and created[-1].type == "interaction-complete"
        conversation_id, first_interaction = created[0].conversation_id, created[-1].interaction_id

        recommended = conv.recommend_responses_for_interaction(conversation_id, first_interaction)
        assert isinstance(recommended.recommended_responses, list)
        found = conv.get_conversations(GetConversationsParametersQuery(id=[conversation_id]))
        assert [c.id for c in found.conversations] == [conversation_id]

        text_turn = _read_until_complete(conv.interact_with_conversation(
            conversation_id, InteractWithConversationParametersQuery(request_format="text", response_format="text"),
            text_message="Hello there!"))
        assert text_turn[0].type == "user-message-available" and text_turn[-1].type == "interaction-complete"

        latest = conv.get_conversation_messages(conversation_id, GetConversationMessagesParametersQuery(
            limit=1, sort_by=["-created_at"])).messages[0].created_at
        event_turn = _read_until_complete(conv.interact_with_conversation(
            conversation_id, InteractWithConversationParametersQuery(request_format="text", response_format="text"),
            initial_message_type="external-event", text_message="Appointment booked",
            external_event_message_content=["Calendar synced", "Reminder sent"],
            external_event_message_timestamp=[latest + timedelta(seconds=1), latest + timedelta(seconds=2)]))
        assert event_turn[-1].type == "interaction-complete"

        first_page = conv.get_conversation_messages(conversation_id, GetConversationMessagesParametersQuery(
            limit=1, sort_by=["+created_at"]))
        assert first_page.has_more and len(first_page.messages) == 1
        seen = [first_page.messages[0]]
        token = first_page.continuation_token
        while token is not None:
            page = conv.get_conversation_messages(conversation_id, GetConversationMessagesParametersQuery(
                limit=1, sort_by=["+created_at"], continuation_token=token))
            seen += page.messages
            token = page.continuation_token if page.has_more else None
        assert [m.message_type.value for m in seen] == [
            "agent-message", "user-message", "agent-message",
            "external-event", "external-event", "external-event", "agent-message"]
        assert [m.created_at for m in seen] == sorted(m.created_at for m in seen)

        insights = conv.get_interaction_insights(conversation_id, event_turn[-1].interaction_id)
        assert isinstance(insights.current_state_name, str) and insights.current_state_name == "chat"

        starters = conv.generate_conversation_starters(ConversationGenerateConversationStarterRequest(
            service_id=service_id, facets=["sleep"], min_count=1, max_count=2, generation_instructions="Be brief."))
        assert 1 <= len(starters.prompts) <= 2

        listed = conv.get_conversations(GetConversationsParametersQuery(limit=5, sort_by=["-created_at"]))
        assert listed.conversations[0].id == conversation_id and listed.conversations[0].num_messages == 7

        conv.finish_conversation(conversation_id)
        try:
            conv.finish_conversation(conversation_id)
            raise AssertionError("second finish accepted")
        except ConflictError:
            pass
        try:
            conv.finish_conversation("0" * 24)
            raise AssertionError("bogus finish accepted")
        except NotFoundError:
            pass
        [done] = conv.get_conversations(GetConversationsParametersQuery(id=[conversation_id])).conversations
        assert done.is_finished
