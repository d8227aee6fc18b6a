"""The official SDK's voice interact, unchanged: a WAV fixture with request_format=voice and a PCM
request_audio_config, a text reply; then the message source it points at."""

from __future__ import annotations

import asyncio

import httpx
from amigo_sdk.generated.model import (
    ConversationCreateConversationRequest,
    CreateConversationParametersQuery,
    GetConversationMessagesParametersQuery,
    InteractWithConversationParametersQuery,
)

from tertulia.speech.audio import encode_wav
from tests.support import conversation as conv_support
from tests.support.sdk import sdk_client
from tests.support.speech import spoken, word_error_rate

SENTENCE = "Please remind me to call my sister tonight."


async def test_sdk_voice_interact_and_message_source(live_server, sdk_tenant, monkeypatch):
    monkeypatch.setattr(conv_support, "AGENT_VERSION", {**conv_support.AGENT_VERSION, "voice_config": {"voice_id": "joe"}})
    async with httpx.AsyncClient(base_url=live_server.base_url) as client:
        r = await client.post(f"/v1/{sdk_tenant.org_id}/user/signin_with_api_key", headers={
            "x-api-key": sdk_tenant.api_key, "x-api-key-id": sdk_tenant.api_key_id, "x-user-id": sdk_tenant.user_id})  # fmt: skip
        assert r.status_code == 200, r.text
        sdk_tenant.token = r.json()["id_token"]
        svc = await conv_support.make_service(client, sdk_tenant)
    wav = encode_wav(spoken(SENTENCE))

    def run() -> tuple[list, list, object, bytes]:
        with sdk_client(live_server.base_url, sdk_tenant) as amigo:
            created = list(amigo.conversations.create_conversation(
                ConversationCreateConversationRequest(service_id=svc.service_id),
                CreateConversationParametersQuery(response_format="text"),
            ))  # fmt: skip
            conversation_id = created[0].root.conversation_id
            params = InteractWithConversationParametersQuery(
                request_format="voice",
                response_format="text",
                request_audio_config={"type": "pcm", "frame_rate": 16000, "n_channels": 1, "sample_width": 2},
            )
            events = list(amigo.conversations.interact_with_conversation(
                conversation_id, params, audio_bytes=wav, audio_content_type="audio/wav"))  # fmt: skip
            messages = amigo.conversations.get_conversation_messages(
                conversation_id, GetConversationMessagesParametersQuery(message_type=["user-message"])
            )
            user_message = messages.messages[-1]
            source = amigo.conversations.get_message_source(conversation_id, user_message.id)
            audio = httpx.get(str(source.url)).content
            return events, messages.messages, source, audio

    events, messages, source, audio = await asyncio.to_thread(run)
    kinds = [e.root.type for e in events]
    assert kinds[0] == "user-message-available" and kinds[-1] == "interaction-complete", kinds
    heard = events[0].root.user_message
    assert word_error_rate(SENTENCE, heard) <= 0.2, heard
    assert messages[-1].message == heard and messages[-1].format.value == "voice"
    assert source.content_type == "audio/wav" and source.expires_at.tzinfo is not None
    assert audio == wav
