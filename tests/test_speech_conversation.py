"""Voice notes through the conversation API: voice in (WAV, MP3, raw PCM), voice out (PCM16/WAV/MP3 pieces with
transcript alignment), the message source endpoint, failures that leave nothing behind, and the official SDK."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from tertulia.conversation.models import Message
from tertulia.core.clock import utcnow
from tertulia.speech.audio import MP3, WAV, decode_mp3, decode_wav, encode_mp3, encode_wav, resample
from tertulia.speech.ports import Pcm, SttOptions
from tests.support import conversation as conv_support
from tests.support.conversation import events_of, make_service, start
from tests.support.speech import spoken, stt, word_error_rate

SENTENCE = "I would like to book a table for two people."
PCM_CONFIG = json.dumps({"type": "pcm", "frame_rate": 16000, "n_channels": 1, "sample_width": 2})


@pytest.fixture
def voice_agent(monkeypatch):
    """make_service builds agents with a voice_config (voice replies need one)."""
    monkeypatch.setattr(conv_support, "AGENT_VERSION", {**conv_support.AGENT_VERSION, "voice_config": {"voice_id": "joe"}})


def audio_upload(kind: str) -> tuple[bytes, str, str]:
    """(bytes, part content type, extra query) for the spoken SENTENCE."""
    pcm = spoken(SENTENCE)
    if kind == "wav":
        return encode_wav(pcm), WAV, ""
    if kind == "mp3":
        return encode_mp3(pcm), MP3, "&request_audio_config=" + json.dumps({"type": "mp3"})
    return resample(pcm, 16000).to_bytes(), "application/octet-stream", "&request_audio_config=" + PCM_CONFIG


async def voice_interact(client, tenant, conversation_id, data: bytes, content_type: str, query: str = "",
                         response_format: str = "text", headers: dict | None = None) -> httpx.Response:  # fmt: skip
    files = [("initial_message_type", (None, "user-message")), ("recorded_message", ("audio", data, content_type))]
    url = tenant.url(f"/conversation/{conversation_id}/interact?request_format=voice&response_format={response_format}{query}")
    return await client.post(url, files=files, headers={**tenant.headers, **(headers or {})})


def blob_files(runtime) -> set[Path]:
    root = runtime.blobs.root
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def message_count(runtime, conversation_id: str) -> int:
    async with runtime.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id)))


@pytest.mark.parametrize("kind", ["wav", "mp3", "pcm"])
async def test_a_voice_message_is_transcribed_stored_and_served(client, tenant, runtime, kind):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    data, content_type, query = audio_upload(kind)
    runtime.llm.script_text("EngageUser", "Certainly, a table for two.")
    r = await voice_interact(client, tenant, conversation_id, data, content_type, query)
    assert r.status_code == 200, r.text
    events = events_of(r)
    assert events[0]["type"] == "user-message-available" and events[-1]["type"] == "interaction-complete"
    heard = events[0]["user_message"]
    assert word_error_rate(SENTENCE, heard) <= 0.2, heard
    pieces = [e for e in events if e["type"] == "new-message"]
    assert all(p["transcript_alignment"] is None for p in pieces)  # text reply

    r = await client.get(tenant.url(f"/conversation/{conversation_id}/messages/?message_type=user-message"), headers=tenant.headers)
    [user_message] = [m for m in r.json()["messages"] if m["id"] == events[0]["message_id"]]
    assert user_message["message"] == heard and user_message["format"] == "voice"

    r = await client.get(tenant.url(f"/conversation/{conversation_id}/messages/{user_message['id']}/source"), headers=tenant.headers)
    assert r.status_code == 200, r.text
    source = r.json()
    assert source["content_type"] == (MP3 if kind == "mp3" else WAV)
    expires_at = datetime.fromisoformat(source["expires_at"])
    assert utcnow() < expires_at <= utcnow() + timedelta(hours=1)
    assert source["url"].startswith("http://tertulia.test/blobs/")
    served = await client.get(source["url"])
    assert served.status_code == 200 and served.headers["content-type"] == source["content_type"]
    if kind == "pcm":
        assert decode_wav(served.content).to_bytes() == data  # raw PCM kept losslessly as WAV
    else:
        assert served.content == data  # the original, byte for byte

    r = await client.get(tenant.url(f"/conversation/{conversation_id}/messages/{user_message['id']}/source?long_lived=true"),
                         headers=tenant.headers)
    assert datetime.fromisoformat(r.json()["expires_at"]) > utcnow() + timedelta(hours=11)


def _decode_piece(message: str, audio_type: str) -> Pcm:
    raw = base64.b64decode(message)
    if audio_type == "pcm":
        return Pcm(np.frombuffer(raw, "<i2").copy(), 24000)
    return decode_wav(raw) if audio_type == WAV else decode_mp3(raw)


@pytest.mark.parametrize("accept", ["application/x-ndjson", "audio/mpeg"])
async def test_a_voice_reply_is_spoken_sentence_by_sentence(client, tenant, runtime, voice_agent, accept):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    reply = "Your table is booked for tomorrow evening. We look forward to seeing you."
    runtime.llm.script_text("EngageUser", reply)
    files = [("initial_message_type", (None, "user-message")), ("recorded_message", ("m.txt", b"Book it", "text/plain"))]
    r = await client.post(tenant.url(f"/conversation/{conversation_id}/interact?request_format=text&response_format=voice"),
                          files=files, headers={**tenant.headers, "Accept": accept})
    assert r.status_code == 200, r.text
    events = events_of(r)
    done = events[-1]
    assert done["type"] == "interaction-complete" and done["full_message"] == reply
    pieces = [e for e in events if e["type"] == "new-message"]
    assert [p["sequence_number"] for p in pieces] == list(range(len(pieces)))
    assert [p["stop"] for p in pieces] == [False] * (len(pieces) - 1) + [True] and pieces[-1]["message"] == ""
    audio_pieces = pieces[:-1]
    assert len(audio_pieces) == 2  # one per sentence
    audio_type = MP3 if accept == "audio/mpeg" else "pcm"
    decoded = [_decode_piece(p["message"], audio_type) for p in audio_pieces]
    spoken_text = "".join(c for p in audio_pieces for _, c in p["transcript_alignment"])
    assert spoken_text.replace(" ", "") == reply.replace(" ", "")
    times = [t for p in audio_pieces for t, _ in p["transcript_alignment"]]
    assert times == sorted(times) and times[-1] <= sum(d.duration for d in decoded) * 1000
    whole = Pcm(np.concatenate([d.samples for d in decoded]), decoded[0].sample_rate)
    heard = await stt().transcribe(whole, SttOptions())
    assert word_error_rate(done["full_message"], heard.text) <= 0.2, heard.text

    r = await client.get(tenant.url(f"/conversation/{conversation_id}/messages/{done['message_id']}/source"), headers=tenant.headers)
    assert r.status_code == 200 and r.json()["content_type"] == WAV
    served = await client.get(r.json()["url"])
    assert abs(decode_wav(served.content).duration - whole.duration) < 0.2


async def test_create_with_a_voice_reply(client, tenant, runtime, voice_agent):
    svc = await make_service(client, tenant)
    runtime.llm.script_text("EngageUser", "Hello, I am Ava.")
    r = await client.post(tenant.url("/conversation/?response_format=voice"), json={"service_id": svc.service_id},
                          headers={**tenant.headers, "Accept": "audio/wav"})
    assert r.status_code == 201, r.text
    events = events_of(r)
    audio = [e for e in events if e["type"] == "new-message" and e["message"]]
    assert audio and all(e["transcript_alignment"] for e in audio)
    pcm = decode_wav(base64.b64decode(audio[0]["message"]))
    assert pcm.sample_rate == 24000 and pcm.duration > 0.5


async def test_voice_reply_needs_an_agent_voice_config(client, tenant):
    svc = await make_service(client, tenant)
    r = await client.post(tenant.url("/conversation/?response_format=voice"), json={"service_id": svc.service_id},
                          headers=tenant.headers)
    assert r.status_code == 400 and "voice config" in r.json()["detail"]


async def test_bad_voice_messages_fail_up_front_and_leave_nothing(client, tenant, runtime):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    before_messages, before_blobs = await message_count(runtime, conversation_id), blob_files(runtime)
    silence = encode_wav(Pcm(np.zeros(16000, np.int16), 16000))
    cases = [
        (b"OggS\x00\x02" + b"\x00" * 64, "audio/ogg", "", 415),
        (b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 64, "audio/mp4", "", 415),
        (b"", WAV, "", 400),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", WAV, "", 400),
        (b"not audio at all", MP3, "", 400),
        (silence, WAV, "", 400),
        (encode_wav(spoken("Hello.")), WAV, "&request_audio_config=" + json.dumps({"type": "pcm", "frame_rate": 1}), 422),
    ]
    for data, content_type, query, status in cases:
        r = await voice_interact(client, tenant, conversation_id, data, content_type, query)
        assert r.status_code == status, (content_type, r.text)
        assert "detail" in r.json()
    assert await message_count(runtime, conversation_id) == before_messages
    assert blob_files(runtime) == before_blobs
    # The conversation is still usable: no lease was left behind.
    data, content_type, query = audio_upload("wav")
    assert (await voice_interact(client, tenant, conversation_id, data, content_type, query)).status_code == 200


async def test_a_voice_turn_that_fails_later_leaves_no_message_and_no_audio(client, tenant, runtime):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    before_messages, before_blobs = await message_count(runtime, conversation_id), blob_files(runtime)
    runtime.llm.fail("EngageUser", after_fragments=1)
    data, content_type, query = audio_upload("wav")
    r = await voice_interact(client, tenant, conversation_id, data, content_type, query)
    assert r.status_code == 200
    events = events_of(r)
    assert events[0]["type"] == "user-message-available" and events[-1]["type"] == "error"
    assert await message_count(runtime, conversation_id) == before_messages
    assert blob_files(runtime) == before_blobs


async def test_text_messages_have_no_source(client, tenant):
    svc = await make_service(client, tenant)
    conversation_id, events = await start(client, tenant, svc.service_id)
    message_id = events[-1]["message_id"]
    r = await client.get(tenant.url(f"/conversation/{conversation_id}/messages/{message_id}/source"), headers=tenant.headers)
    assert r.status_code == 400
    r = await client.get(tenant.url(f"/conversation/{conversation_id}/messages/{'0' * 24}/source"), headers=tenant.headers)
    assert r.status_code == 404
