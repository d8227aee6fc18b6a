"""The demo service answers a voice note by voice (the real embedded speech engines of the voice extras); an agent
without a voice config is refused a voice reply before anything is transcribed."""

from __future__ import annotations

import base64

import pytest

from tertulia.speech.audio import WAV, decode_wav, encode_wav
from tests.support.conversation import events_of, make_service, start
from tests.support.speech import spoken, word_error_rate
from tests.test_speech_conversation import message_count, voice_interact

SENTENCE = "I would like to read more books this week."


class CountingSTT:
    """The server's real speech-to-text, counting the recordings it is asked to hear."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def transcribe(self, *args, **kwargs):
        self.calls += 1
        return await self.inner.transcribe(*args, **kwargs)


@pytest.fixture
def counting_stt(runtime, monkeypatch) -> CountingSTT:
    counter = CountingSTT(runtime.stt)
    monkeypatch.setattr(runtime, "stt", counter)
    return counter


@pytest.fixture
async def demo_service(runtime, tenant) -> str:
    from tertulia.demo import install_demo_service, load_definition

    assert load_definition()["agent"]["version"]["voice_config"]["voice_id"]
    async with runtime.db.unit_of_work() as session:
        return await install_demo_service(session, tenant.org_id, {"org_id": tenant.org_id, "user_id": tenant.user_id})


async def test_demo_agent_answers_a_voice_note_by_voice(client, tenant, runtime, demo_service, counting_stt):
    conversation_id, _ = await start(client, tenant, demo_service)
    runtime.llm.script_text("EngageUser", "Reading more is a lovely goal. How many pages a day?")
    r = await voice_interact(client, tenant, conversation_id, encode_wav(spoken(SENTENCE)), WAV,
                             response_format="voice", headers={"Accept": "audio/wav"})
    assert r.status_code == 200, r.text
    events = events_of(r)
    assert events[0]["type"] == "user-message-available" and events[-1]["type"] == "interaction-complete"
    assert word_error_rate(SENTENCE, events[0]["user_message"]) <= 0.2, events[0]["user_message"]
    audio = [e for e in events if e["type"] == "new-message" and e["message"]]
    assert audio and all(e["transcript_alignment"] for e in audio)
    assert sum(decode_wav(base64.b64decode(e["message"])).duration for e in audio) > 1.5
    assert counting_stt.calls == 1


async def test_voice_reply_from_an_agent_without_voice_config_is_refused_before_transcription(
        client, tenant, runtime, counting_stt):
    svc = await make_service(client, tenant)  # its agent has no voice_config
    conversation_id, _ = await start(client, tenant, svc.service_id)
    before = await message_count(runtime, conversation_id)
    r = await voice_interact(client, tenant, conversation_id, encode_wav(spoken(SENTENCE)), WAV,
                             response_format="voice")
    assert r.status_code == 400 and "voice config" in r.json()["detail"]
    assert counting_stt.calls == 0  # nothing was transcribed
    assert await message_count(runtime, conversation_id) == before
    r = await voice_interact(client, tenant, conversation_id, encode_wav(spoken(SENTENCE)), WAV)  # text reply: fine
    assert r.status_code == 200 and counting_stt.calls == 1
