"""Voice around a turn: transcribe the user's recording before it, speak and keep the reply during it.

* ``transcribe`` turns an uploaded recording (WAV, MP3, or raw PCM described by ``request_audio_config``) into the
  user message text with ``runtime.stt``, with the conversation user's preferred language and ``audio_keyterms``;
  it stores nothing;
* ``store_audio`` keeps the original recording in the blob store (raw PCM kept as WAV) once the turn may run, so
  ``retrieve-message-source`` can serve it; ``discard_audio`` removes it again when the turn fails;
* ``speech_stream`` / ``store_reply_audio``: the spoken reply, sentence by sentence, and its WAV kept afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tertulia.runtime import Runtime
from tertulia.speech.stream import SpeechStream
from tertulia.speech.voice import VoiceInput, discard, store_original, transcribe_voice_message
from tertulia.turns.contract import TurnPlan, TurnStore


@dataclass(frozen=True)
class VoiceUpload:
    """An uploaded recording, transcribed only once the turn is known to be possible (``service.plan_interact``)."""

    data: bytes
    content_type: str
    config: Any  # request_audio_config, parsed


async def transcribe(
    runtime: Runtime, store: TurnStore, data: bytes, content_type: str, config: Any, *, org_id: str,
    conversation_id: str,
) -> VoiceInput:
    language, keyterms = await store.speaker_hints(org_id, conversation_id)
    return await transcribe_voice_message(runtime, data, content_type, config, language=language, keyterms=keyterms)


async def store_audio(
    runtime: Runtime, org_id: str, conversation_id: str, message_id: str, data: bytes, content_type: str
) -> tuple[str | None, str | None]:
    if runtime.blobs is None:
        return None, None
    base = "audio/mpeg" if "mpeg" in content_type else "audio/wav"
    return await store_original(runtime, org_id, conversation_id, message_id, data, base), base


async def discard_audio(runtime: Runtime, keys: list[str | None]) -> None:
    for key in keys:
        await discard(runtime, key)


def speech_stream(runtime: Runtime, plan: TurnPlan) -> Any:
    if plan.response_format != "voice":
        return None
    return SpeechStream(runtime, plan.request.agent.get("voice_config"), plan.audio_type)


async def store_reply_audio(runtime: Runtime, plan: TurnPlan, speech: Any) -> None:
    if runtime.blobs is None or not speech.pieces:
        return
    plan.agent_audio_key = await store_original(
        runtime, plan.org_id, plan.conversation_id, plan.agent_message_id, speech.wav(), "audio/wav"
    )
