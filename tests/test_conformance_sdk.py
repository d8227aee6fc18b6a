"""Conformance: every resource method of the official amigo-sdk 2.5.0, with the sync ``AmigoClient`` and the async
``AsyncAmigoClient``, against a real ``tertulia serve`` subprocess (credentials from ``tertulia bootstrap --json``).
Only ``base_url`` differs from production use; the SDK validates every response with its own models.

One scenario, written once: ``_call`` awaits what the async client returns and passes the sync client's results
through, ``_events`` reads either kind of NDJSON stream to ``interaction-complete``."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import secrets
from datetime import timedelta

import httpx
import pytest
from amigo_sdk import AmigoClient, AsyncAmigoClient
from amigo_sdk.errors import BadRequestError, ConflictError, NotFoundError
from amigo_sdk.generated.model import (
    ConversationCreateConversationRequest,
    ConversationGenerateConversationStarterRequest,
    CreateConversationParametersQuery,
    GetAgentVersionsParametersQuery,
    GetConversationMessagesParametersQuery,
    GetConversationsParametersQuery,
    GetServiceHierarchicalStateMachineVersionsParametersQuery,
    GetServicesParametersQuery,
    GetUsersParametersQuery,
    InteractWithConversationParametersQuery,
    OrganizationCreateAgentRequest,
    OrganizationCreateAgentVersionRequest,
    OrganizationCreateServiceHierarchicalStateMachineRequest,
    OrganizationCreateServiceHierarchicalStateMachineVersionRequest,
    ServiceCreateServiceRequest,
    ServiceUpdateServiceRequest,
    ServiceUpsertServiceVersionSetRequest,
    UserCreateInvitedUserRequest,
    UserUpdateUserInfoRequest,
)

from tests.support.conversation import AGENT_VERSION, GRAPH_VERSION
from tests.support.serve_process import Credentials, ServeProcess, served  # noqa: F401  (session fixture)

VOICE = importlib.util.find_spec("faster_whisper") is not None and importlib.util.find_spec("tertulia.speech") is not None


def _client(cls, server: ServeProcess):
    creds: Credentials = server.credentials
    return cls(api_key=creds.api_key, api_key_id=creds.api_key_id, user_id=creds.user_id,
               organization_id=creds.organization_id, base_url=server.base_url)


async def _call(result):
    return await result if inspect.isawaitable(result) else result


async def _events(stream) -> list:
    """Every event of one turn; the stream must end in interaction-complete and carry no error event."""
    stream = await _call(stream)
    events = []
    if hasattr(stream, "__aiter__"):
        async for event in stream:
            events.append(getattr(event, "root", event))
    else:
        for event in stream:
            events.append(getattr(event, "root", event))
    kinds = [e.type for e in events]
    assert "error" not in kinds, events
    assert kinds and kinds[-1] == "interaction-complete", kinds
    return events


async def _raises(exc: type[Exception], call) -> None:
    """``call`` is a thunk: the sync client raises as soon as the method is called."""
    try:
        await _call(call())
    except exc:
        return
    raise AssertionError(f"expected {exc.__name__}")


async def _scenario(amigo, server: ServeProcess) -> None:
    tag = secrets.token_hex(3)
    demo_service = server.credentials.service_id
    me = server.credentials.user_id

    org = await _call(amigo.organizations.get())
    assert org.org_id == server.credentials.organization_id

    # agents
    agent = await _call(amigo.agents.create_agent(OrganizationCreateAgentRequest(agent_name=f"Conf agent {tag}")))
    v = await _call(amigo.agents.create_agent_version(
        agent.id, OrganizationCreateAgentVersionRequest.model_validate(AGENT_VERSION)))
    assert v.version == 1
    versions = await _call(amigo.agents.get_agent_versions(agent.id, GetAgentVersionsParametersQuery(version="latest")))
    assert [x.version for x in versions.agent_versions] == [1]
    listed = await _call(amigo.agents.get_agents())
    assert agent.id in [a.id for a in listed.agents]
    await _raises(ConflictError, lambda: amigo.agents.create(OrganizationCreateAgentRequest(agent_name=f"Conf agent {tag}")))

    # context graphs
    graph = await _call(amigo.context_graphs.create_context_graph(
        OrganizationCreateServiceHierarchicalStateMachineRequest(state_machine_name=f"Conf graph {tag}")))
    made = await _call(amigo.context_graphs.create_context_graph_version(
        graph.id, OrganizationCreateServiceHierarchicalStateMachineVersionRequest.model_validate(GRAPH_VERSION)))
    assert made.version == 1
    gv = await _call(amigo.context_graphs.get_context_graph_versions(
        graph.id, GetServiceHierarchicalStateMachineVersionsParametersQuery(version="1")))
    assert [x.version for x in gv.state_machine_versions] == [1]
    graphs = await _call(amigo.context_graphs.get_context_graphs())
    assert graph.id in [g.id for g in graphs.service_hierarchical_state_machines]

    # services
    service = await _call(amigo.services.create_service(ServiceCreateServiceRequest.model_validate({
        "service_hierarchical_state_machine_id": graph.id, "agent_id": agent.id, "name": f"Conf service {tag}",
        "description": "Conformance.", "is_active": True, "keyterms": [], "tags": {}})))
    await _call(amigo.services.update_service(service.id, ServiceUpdateServiceRequest(description="Updated.")))
    await _call(amigo.services.upsert_version_set(service.id, "pinned", ServiceUpsertServiceVersionSetRequest.model_validate(
        {"version_set": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1,
                         "llm_model_preferences": {}}})))
    [s] = (await _call(amigo.services.get_services(GetServicesParametersQuery(id=[service.id])))).services
    assert s.description == "Updated." and {k.root if hasattr(k, "root") else k for k in s.version_sets} == {"edge", "release", "pinned"}
    await _call(amigo.services.delete_version_set(service.id, "pinned"))
    await _raises(NotFoundError, lambda: amigo.services.delete_version_set(service.id, "pinned"))
    all_services = await _call(amigo.services.list())
    assert {service.id, demo_service} <= {x.id for x in all_services.services}

    # users
    email = f"conf{tag}@example.com"
    invited = await _call(amigo.users.create_user(UserCreateInvitedUserRequest(
        first_name="Conf", last_name="User", email=email, role_name="DefaultUserRole")))
    await _call(amigo.users.update_user(invited.user_id, UserUpdateUserInfoRequest(first_name="Renamed")))
    [u] = (await _call(amigo.users.get_users(GetUsersParametersQuery(user_id=[invited.user_id])))).users
    assert u.first_name == "Renamed" and u.email == email
    model = await _call(amigo.users.get_user_model(invited.user_id))
    assert model.user_models == []
    await _call(amigo.users.delete_user(invited.user_id))
    assert (await _call(amigo.users.get_users(GetUsersParametersQuery(user_id=[invited.user_id])))).users == []

    # conversations, on the demo service installed by bootstrap and on the one made above
    for service_id in (demo_service, service.id):
        await _conversation(amigo, service_id)
    starters = await _call(amigo.conversations.generate_conversation_starters(
        ConversationGenerateConversationStarterRequest(service_id=demo_service, facets=["sleep"], min_count=1,
                                                       max_count=3, generation_instructions="Be brief.")))
    assert 1 <= len(starters.prompts) <= 3
    assert isinstance((await _call(amigo.users.get_user_model(me))).user_models, list)

    # tear down what was made (agent/graph deletes are refused while an active service uses them)
    await _raises(BadRequestError, lambda: amigo.agents.delete_agent(agent.id))
    await _call(amigo.services.update_service(service.id, ServiceUpdateServiceRequest(is_active=False)))
    await _call(amigo.agents.delete_agent(agent.id))
    await _call(amigo.context_graphs.delete_context_graph(graph.id))
    await _raises(ConflictError, lambda: amigo.agents.delete(agent.id))
    await _raises(ConflictError, lambda: amigo.context_graphs.delete(graph.id))


async def _conversation(amigo, service_id: str) -> None:
    conv = amigo.conversations
    created = await _events(conv.create_conversation(
        ConversationCreateConversationRequest(service_id=service_id, service_version_set_name="release"),
        CreateConversationParametersQuery(response_format="text")))
    assert created[0].type == "conversation-created"
    conversation_id = created[0].conversation_id
    text_params = InteractWithConversationParametersQuery(request_format="text", response_format="text")
    turn = await _events(conv.interact_with_conversation(conversation_id, text_params, text_message="Hello there!"))
    assert turn[0].type == "user-message-available"
    latest = (await _call(conv.get_conversation_messages(conversation_id, GetConversationMessagesParametersQuery(
        limit=1, sort_by=["-created_at"])))).messages[0].created_at
    event_turn = await _events(conv.interact_with_conversation(
        conversation_id, text_params, initial_message_type="external-event", text_message="Appointment booked",
        external_event_message_content=["Calendar synced"], external_event_message_timestamp=[latest + timedelta(seconds=1)]))
    interaction_id = event_turn[-1].interaction_id

    if VOICE:
        interaction_id = await _voice_turn(conv, conversation_id)

    seen, token = [], None
    while True:
        page = await _call(conv.get_conversation_messages(conversation_id, GetConversationMessagesParametersQuery(
            limit=2, sort_by=["+created_at"], continuation_token=token)))
        seen += page.messages
        if not page.has_more:
            break
        token = page.continuation_token
    types = [m.message_type.value for m in seen]
    assert types[:2] == ["agent-message", "user-message"] and "external-event" in types, types
    assert [m.created_at for m in seen] == sorted(m.created_at for m in seen)

    insights = await _call(conv.get_interaction_insights(conversation_id, interaction_id))
    assert isinstance(insights.current_state_name, str)
    recommended = await _call(conv.recommend_responses_for_interaction(conversation_id, interaction_id))
    assert isinstance(recommended.recommended_responses, list)
    [found] = (await _call(conv.get_conversations(GetConversationsParametersQuery(id=[conversation_id])))).conversations
    assert found.num_messages == len(seen) and not found.is_finished

    await _call(conv.finish_conversation(conversation_id))
    await _raises(ConflictError, lambda: conv.finish_conversation(conversation_id))
    [done] = (await _call(conv.get_conversations(GetConversationsParametersQuery(id=[conversation_id])))).conversations
    assert done.is_finished


async def _voice_turn(conv, conversation_id: str) -> str:
    from tertulia.speech.audio import encode_wav
    from tests.support.speech import spoken

    wav = encode_wav(spoken("Please call my sister."))
    params = InteractWithConversationParametersQuery(
        request_format="voice", response_format="text",
        request_audio_config={"type": "pcm", "frame_rate": 16000, "n_channels": 1, "sample_width": 2})
    events = await _events(conv.interact_with_conversation(
        conversation_id, params, audio_bytes=wav, audio_content_type="audio/wav"))
    assert events[0].type == "user-message-available"
    [voice] = (await _call(conv.get_conversation_messages(conversation_id, GetConversationMessagesParametersQuery(
        message_type=["user-message"], limit=1, sort_by=["-created_at"])))).messages
    assert voice.format.value == "voice"
    source = await _call(conv.get_message_source(conversation_id, voice.id))
    assert source.content_type == "audio/wav" and source.expires_at.tzinfo is not None
    async with httpx.AsyncClient() as http:
        assert (await http.get(str(source.url))).content == wav
    return events[-1].interaction_id


@pytest.mark.skipif(not VOICE, reason="speech extra (faster-whisper) not installed: voice interact and "
                    "get_message_source are not exercised by the scenarios below")
def test_voice_and_message_source_are_exercised():
    assert VOICE


def test_sync_client_drives_every_resource_method(served):
    with _client(AmigoClient, served) as amigo:
        asyncio.run(_scenario(amigo, served))


async def test_async_client_drives_every_resource_method(served):
    async with _client(AsyncAmigoClient, served) as amigo:
        await _scenario(amigo, served)
