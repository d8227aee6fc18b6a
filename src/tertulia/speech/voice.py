"""Voice steps for the conversation code: transcribe a voice message before the turn, speak the reply after it.

* ``transcribe_voice_message`` — decode (415 unsupported, 400 empty/corrupt), transcribe, refuse empty speech.
  Nothing is stored: the caller stores the original with ``store_original`` once it has a message id, and
  ``discard``s it if the turn then fails, so a failed voice turn leaves nothing behind.
* ``speak`` — sentence by sentence: each sentence of the streamed reply is synthesized as soon as its end arrives
  (while the LLM keeps streaming), and yielded as a ``SpokenPiece`` with base64 audio and a transcript alignment.
* ``message_source`` — the ``{url, expires_at, content_type}`` body of retrieve-message-source.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, Unavailable
from tertulia.speech.alignment import align
from tertulia.speech.audio import MP3, WAV, decode_upload, encode, encode_wav, resample
from tertulia.speech.blobs import expiry, message_key
from tertulia.speech.config import parse_audio_config
from tertulia.speech.ports import Pcm, SttOptions, VoiceOptions
from tertulia.speech.sentences import sentences

log = logging.getLogger("tertulia.speech")
PCM = "pcm"


@dataclass(frozen=True)
class VoiceInput:
    text: str
    audio: bytes  # the original (raw PCM wrapped as WAV)
    content_type: str  # audio/wav | audio/mpeg
    duration: float


@dataclass(frozen=True)
class SpokenPiece:
    text: str
    pcm: Pcm
    message: str  # base64 audio: raw PCM16 LE mono by default, or a WAV / MP3 segment per Accept
    transcript_alignment: list[list[Any]]
    offset_ms: int


def parse_voice_config(raw: str | None):
    """Validate ``request_audio_config`` early (422 when malformed)."""
    return parse_audio_config(raw)


def language_code(language: str | None) -> str | None:
    """ISO 639-1 for the engines from a preference such as ``en``, ``eng`` or ``en-US``; None when unknown."""
    if not language:
        return None
    code = language.split("-")[0].split("_")[0].lower()
    if len(code) == 2:
        return code
    return {"eng": "en", "spa": "es", "fra": "fr", "deu": "de", "ita": "it", "por": "pt", "nld": "nl", "jpn": "ja",
            "zho": "zh", "cmn": "zh", "kor": "ko", "rus": "ru", "ara": "ar", "hin": "hi", "pol": "pl", "tur": "tr"}.get(code)  # fmt: skip


async def transcribe_voice_message(
    runtime: Any,
    data: bytes,
    content_type: str | None,
    request_audio_config: Any,
    *,
    language: str | None = None,
    keyterms: Sequence[str] = (),
) -> VoiceInput:
    """``request_audio_config``: the raw JSON string, or an already parsed ``Mp3Config``/``PcmConfig``/None."""
    config = parse_audio_config(request_audio_config) if isinstance(request_audio_config, str) else request_audio_config
    if runtime.stt is None:
        raise BadRequest("Voice messages are not available on this server: no speech-to-text engine is configured.")
    upload = decode_upload(data, content_type, config)
    options = SttOptions(language=language_code(language), keyterms=tuple(k for k in keyterms if k))
    try:
        transcript = await runtime.stt.transcribe(upload.pcm, options)
    except Exception as exc:  # an engine or remote API failure is the server's, not the client's
        log.exception("speech-to-text failed")
        raise Unavailable(f"Speech-to-text failed ({type(exc).__name__}); retry shortly.") from None
    text = transcript.text.strip()
    if not text:
        raise BadRequest("The user message is empty: no speech was recognised in the audio.")
    return VoiceInput(text=text, audio=upload.original, content_type=upload.content_type, duration=upload.pcm.duration)


def require_tts(runtime: Any) -> None:
    """400 up front when a voice reply is asked for and no text-to-speech engine exists."""
    if runtime.tts is None:
        raise BadRequest("Voice responses are not available on this server: no text-to-speech engine is configured.")


def response_audio_type(accept: str | None) -> str:
    """``audio/mpeg`` or ``audio/wav`` when the client's Accept asks for it, else raw PCM16 (the API's default)."""
    accept = (accept or "").lower()
    if "audio/mpeg" in accept or "audio/mp3" in accept:
        return MP3
    if "audio/wav" in accept or "audio/x-wav" in accept or "audio/wave" in accept:
        return WAV
    return PCM


def output_sample_rate(runtime: Any) -> int:
    speech = runtime.speech
    return speech.settings.speech_output_sample_rate if speech else 24000


async def speak(
    runtime: Any,
    fragments: AsyncIterable[str] | Iterable[str],
    voice_config: dict | None = None,
    audio_type: str = PCM,
) -> AsyncIterator[SpokenPiece]:
    """Speak a (streamed) reply sentence by sentence."""
    require_tts(runtime)
    voice = VoiceOptions.from_config(voice_config)
    rate = output_sample_rate(runtime)
    queue: asyncio.Queue = asyncio.Queue()
    done = object()

    async def produce() -> None:
        try:
            async for sentence in sentences(fragments):
                await queue.put(sentence)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            await queue.put(exc)
            return
        await queue.put(done)

    producer = asyncio.create_task(produce())
    offset_ms = 0
    try:
        while True:
            item = await queue.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            pcm = resample(await runtime.tts.synthesize(item, voice), rate)
            audio = encode(pcm, audio_type)
            yield SpokenPiece(
                text=item,
                pcm=pcm,
                message=base64.b64encode(audio).decode("ascii"),
                transcript_alignment=align(item, pcm, offset_ms),
                offset_ms=offset_ms,
            )
            offset_ms += int(round(pcm.duration * 1000))
    finally:
        if not producer.done():
            producer.cancel()


def join_pieces(pieces: Sequence[SpokenPiece], rate: int | None = None) -> bytes:
    """The whole spoken reply as one WAV (to keep as the agent message's source)."""
    if not pieces:
        return encode_wav(Pcm(np.zeros(0, np.int16), rate or 24000))
    samples = np.concatenate([p.pcm.samples for p in pieces])
    return encode_wav(Pcm(samples, pieces[0].pcm.sample_rate))


async def store_original(runtime: Any, org_id: str, conversation_id: str, message_id: str, audio: bytes, content_type: str) -> str:
    key = message_key(org_id, conversation_id, message_id, content_type)
    await runtime.blobs.put(key, audio, content_type)
    return key


async def discard(runtime: Any, key: str | None) -> None:
    if key and runtime.blobs is not None:
        try:
            await runtime.blobs.delete(key)
        except Exception:  # best effort: an orphan blob is harmless, a masked turn error is not
            log.exception("could not delete blob %s", key)


def message_source(runtime: Any, *, key: str, content_type: str | None, base_url: str, long_lived: bool = False) -> dict:
    """``{url, expires_at, content_type}``: a URL this server serves, signed and expiring (12 h when long-lived)."""
    speech = runtime.speech
    assert speech is not None, "message_source needs the speech package attached"
    expires_at = expiry(utcnow(), speech.settings.source_url_ttl_seconds, long_lived)
    base = speech.public_base_url or base_url
    return {
        "url": speech.signer.url(base, key, expires_at),
        "expires_at": expires_at.isoformat(),
        "content_type": content_type if content_type in (WAV, MP3) else WAV,
    }
