"""The embedded engines end to end: speak with piper, hear it back with faster-whisper (tiny.en), through WAV,
MP3 and raw PCM; sentence-by-sentence speaking; the OpenAI-compatible adapters against a local stand-in server."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import numpy as np
import pytest

from tertulia.speech.adapters.openai_compat import OpenAISpeaker, OpenAITranscriber
from tertulia.speech.audio import MP3, WAV, decode_mp3, decode_upload, decode_wav, encode_mp3, encode_wav, resample
from tertulia.speech.config import PcmConfig
from tertulia.speech.ports import Pcm, SttOptions, VoiceOptions
from tertulia.speech.voice import PCM, join_pieces, speak, transcribe_voice_message
from tests.support.speech import spoken, stt, tts, word_error_rate

SENTENCE = "Please book a table for two people tomorrow evening."


class _Runtime:
    """Just the attributes the voice helpers read."""

    def __init__(self, stt_port=None, tts_port=None) -> None:
        self.stt = stt_port
        self.tts = tts_port
        self.blobs = None
        self.speech = None


async def test_piper_speaks_what_whisper_hears() -> None:
    pcm = spoken(SENTENCE)
    assert pcm.sample_rate == 22050 and 1.5 < pcm.duration < 8
    transcript = await stt().transcribe(pcm, SttOptions(language="en"))
    assert word_error_rate(SENTENCE, transcript.text) <= 0.2, transcript.text


@pytest.mark.parametrize("container", ["wav", "mp3", "pcm16", "pcm32"])
async def test_a_voice_message_in_each_container_is_transcribed(container: str) -> None:
    pcm = spoken(SENTENCE)
    config = None
    if container == "wav":
        data, content_type = encode_wav(pcm), WAV
    elif container == "mp3":
        data, content_type = encode_mp3(pcm), MP3
    elif container == "pcm16":
        low = resample(pcm, 16000)
        data, content_type = low.to_bytes(), "application/octet-stream"
        config = json.dumps({"type": "pcm", "frame_rate": 16000, "n_channels": 1, "sample_width": 2})
    else:
        data, content_type = (pcm.samples.astype("<i4") << 16).tobytes(), None
        config = json.dumps({"type": "pcm", "frame_rate": 22050, "n_channels": 1, "sample_width": 4})
    runtime = _Runtime(stt())
    voice = await transcribe_voice_message(runtime, data, content_type, config, language="eng", keyterms=["table"])
    assert word_error_rate(SENTENCE, voice.text) <= 0.2, voice.text
    assert voice.content_type == (MP3 if container == "mp3" else WAV)
    if container == "mp3":
        assert voice.audio == data  # the original is kept as sent
    else:
        assert decode_wav(voice.audio).sample_rate == (16000 if container == "pcm16" else 22050)


async def test_silence_is_an_empty_message() -> None:
    from tertulia.core.errors import BadRequest

    silence = Pcm(np.zeros(16000, np.int16), 16000)
    with pytest.raises(BadRequest, match="empty"):
        await transcribe_voice_message(_Runtime(stt()), encode_wav(silence), WAV, None)


async def test_no_engine_means_400_not_500() -> None:
    from tertulia.core.errors import BadRequest

    with pytest.raises(BadRequest, match="not available"):
        await transcribe_voice_message(_Runtime(None), encode_wav(spoken("Hello.")), WAV, None)
    with pytest.raises(BadRequest, match="not available"):
        async for _ in speak(_Runtime(None, None), ["Hello."]):
            pass


async def _fragments(text: str, delay: float = 0.0):
    for word in text.split(" "):
        await asyncio.sleep(delay)
        yield word + " "


@pytest.mark.parametrize("audio_type", [PCM, WAV, MP3])
async def test_a_streamed_reply_is_spoken_sentence_by_sentence(audio_type: str) -> None:
    reply = "Sure, I can help with that. Your table for two is booked for tomorrow evening."
    runtime = _Runtime(stt(), tts())
    pieces = [p async for p in speak(runtime, _fragments(reply), {"voice_id": "joe"}, audio_type)]
    assert [p.text for p in pieces] == ["Sure, I can help with that.", "Your table for two is booked for tomorrow evening."]
    offset = 0
    for piece in pieces:
        raw = base64.b64decode(piece.message)
        if audio_type == PCM:
            audio = Pcm(np.frombuffer(raw, "<i2"), 24000)
        elif audio_type == WAV:
            audio = decode_wav(raw)
        else:
            audio = decode_mp3(raw)
        assert audio.sample_rate == 24000 and abs(audio.duration - piece.pcm.duration) < 0.1
        assert piece.offset_ms == offset and piece.transcript_alignment[0][0] >= offset
        assert "".join(c for _, c in piece.transcript_alignment) == piece.text
        offset += round(piece.pcm.duration * 1000)
    whole = decode_wav(join_pieces(pieces))
    heard = await stt().transcribe(whole, SttOptions())
    assert word_error_rate(reply, heard.text) <= 0.2, heard.text


async def test_the_first_sentence_is_spoken_before_the_reply_has_finished_streaming() -> None:
    reply = "Hello, nice to meet you. " + "This second sentence keeps streaming slowly for a while. " * 2
    runtime = _Runtime(None, tts())
    streamed_all = asyncio.Event()

    async def slow():
        async for fragment in _fragments(reply, delay=0.05):
            yield fragment
        streamed_all.set()

    async for piece in speak(runtime, slow()):
        assert piece.text == "Hello, nice to meet you."
        assert not streamed_all.is_set()
        break


def _openai_stand_in(requests: list[httpx.Request]) -> httpx.MockTransport:
    """A local OpenAI-compatible speech server backed by the embedded engines."""

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/v1/audio/speech":
            body = json.loads(request.content)
            return httpx.Response(200, content=encode_wav(spoken(body["input"])), headers={"content-type": "audio/wav"})
        if request.url.path == "/v1/audio/transcriptions":
            content_type = request.headers["content-type"]
            boundary = content_type.split("boundary=")[1].encode()
            parts = request.content.split(b"--" + boundary)
            fields = {}
            for part in parts:
                head, _, value = part.partition(b"\r\n\r\n")
                if b'name="' in head:
                    name = head.split(b'name="')[1].split(b'"')[0].decode()
                    fields[name] = value[:-2]
            pcm = decode_upload(fields["file"], "audio/wav", None).pcm
            text = stt().transcribe_sync(pcm, SttOptions()).text
            return httpx.Response(200, json={"text": text, "fields": {k: v.decode() for k, v in fields.items() if k != "file"}})
        return httpx.Response(404)

    return httpx.MockTransport(handle)


async def test_openai_compatible_adapters_send_voice_and_keyterms() -> None:
    requests: list[httpx.Request] = []
    transport = _openai_stand_in(requests)
    speaker = OpenAISpeaker("http://speech.local/v1", "k", "tts-1", "alloy", transport=transport)
    transcriber = OpenAITranscriber("http://speech.local/v1", "k", "whisper-1", transport=transport)
    pcm = await speaker.synthesize(SENTENCE, VoiceOptions(voice_id="nova"))
    sent = json.loads(requests[-1].content)
    assert sent == {"model": "tts-1", "input": SENTENCE, "voice": "nova", "response_format": "wav"}
    assert requests[-1].headers["authorization"] == "Bearer k"
    await speaker.synthesize("Hello.", VoiceOptions(voice_id="a0e99841-438c-4a64-b679-ae501e7d6091"))
    assert json.loads(requests[-1].content)["voice"] == "alloy"  # a vendor UUID falls back to the default voice
    transcript = await transcriber.transcribe(pcm, SttOptions(language="en", keyterms=("Tertulia", "booking")))
    assert word_error_rate(SENTENCE, transcript.text) <= 0.2
    form = requests[-1].content
    assert b'name="prompt"\r\n\r\nTertulia, booking' in form and b'name="language"\r\n\r\nen' in form
    await speaker.aclose()
    await transcriber.aclose()


async def test_pcm_config_with_wrong_rate_still_decodes_what_was_said() -> None:
    """A PCM config describes raw bytes; an 8 kHz phone-quality message is still understood."""
    pcm = resample(spoken(SENTENCE), 8000)
    runtime = _Runtime(stt())
    config = PcmConfig(frame_rate=8000, n_channels=1, sample_width=2).model_dump_json()
    voice = await transcribe_voice_message(runtime, pcm.to_bytes(), None, config)
    assert word_error_rate(SENTENCE, voice.text) <= 0.3, voice.text


async def test_speech_stream_hands_back_pieces_in_order_while_feeding() -> None:
    from tertulia.speech.stream import SpeechStream

    runtime = _Runtime(None, tts())
    stream = SpeechStream(runtime, {"voice_id": "joe"}, WAV)
    reply = "Good morning to you. The clinic opens at nine. See you soon"
    first, later = reply[: len("Good morning to you.")], reply[len("Good morning to you.") :]
    for word in first.split(" "):
        stream.feed(word + " ")
    early = []
    # The reply is still incomplete: the first sentence must come back spoken while we wait (no fixed sleep, so a
    # loaded machine cannot make this fail; a stream that only speaks at finish() fails after the bound).
    for _ in range(600):
        early += stream.ready()
        if early:
            break
        await asyncio.sleep(0.05)
    assert early and early[0].text == "Good morning to you."  # spoken before the reply was complete
    for word in later.split(" "):
        stream.feed(word + " ")
    early += stream.ready()
    rest = [p async for p in stream.finish()]
    assert [p.text for p in early + rest] == ["Good morning to you.", "The clinic opens at nine.", "See you soon"]
    assert [p.offset_ms for p in stream.pieces] == sorted(p.offset_ms for p in stream.pieces)
    heard = await stt().transcribe(decode_wav(stream.wav()), SttOptions())
    assert word_error_rate(reply, heard.text) <= 0.25, heard.text


async def test_speech_stream_speaks_a_reply_that_arrived_whole() -> None:
    from tertulia.speech.stream import SpeechStream

    stream = SpeechStream(_Runtime(None, tts()))
    pieces = [p async for p in stream.finish("Hello there.")]
    assert [p.text for p in pieces] == ["Hello there."] and pieces[0].pcm.sample_rate == 24000


async def test_espeak_ng_speaks_what_whisper_hears() -> None:
    """The fallback text-to-speech engine (Debian's espeak-ng program, used when the piper extra is absent)."""
    from tertulia.speech.adapters import espeak

    if not espeak.available():
        pytest.skip("espeak-ng is not installed on this machine (apt-get install espeak-ng)")
    pcm = await espeak.EspeakTTS().synthesize("Good morning, how are you today?", VoiceOptions.from_config(None))
    assert pcm.duration > 1.0
    transcript = await stt().transcribe(pcm, SttOptions(language="en"))
    assert word_error_rate("Good morning, how are you today?", transcript.text) <= 0.34, transcript.text
