"""Voice input/output seams of the conversation API, filled by the speech package (``tertulia.speech``).

* ``transcribe`` decodes an uploaded recording (WAV, MP3, or raw PCM described by ``request_audio_config``) and
  turns it into the user message text with ``runtime.stt``, passing the conversation user's ``audio_keyterms`` and
  preferred language; it stores nothing;
* ``store_audio`` keeps the original recording in the blob store (raw PCM kept as WAV) so
  ``retrieve-message-source`` can serve it; ``discard_audio`` removes it again when the turn fails;
* ``source_for`` answers ``retrieve-message-source`` for one message (text messages → 400).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.conversation.models import Conversation, Message
from tertulia.core.errors import BadRequest, NotFound
from tertulia.runtime import Runtime
from tertulia.speech.config import parse_audio_config as _parse
from tertulia.speech.voice import VoiceInput, discard, message_source, store_original, transcribe_voice_message


def parse_audio_config(raw: str | None) -> Any:
    """``request_audio_config`` arrives as a JSON string in the query (``{"type":"pcm",...}`` or ``{"type":"mp3"}``)."""
    return _parse(raw)


async def _speaker_hints(session: AsyncSession | None, org_id: str | None, conversation_id: str | None) -> tuple[str | None, list[str]]:
    """The conversation user's preferred language and ``audio_keyterms`` (user preferences)."""
    if session is None or not org_id or not conversation_id:
        return None, []
    from tertulia.user.models import User

    user_id = await session.scalar(
        select(Conversation.user_id).where(Conversation.org_id == org_id, Conversation.id == conversation_id)
    )
    if user_id is None:
        return None, []
    preferences = await session.scalar(select(User.preferences).where(User.org_id == org_id, User.user_id == user_id))
    preferences = preferences or {}
    keyterms = [str(k) for k in preferences.get("audio_keyterms") or [] if k]
    return preferences.get("preferred_language") or None, keyterms


async def transcribe(runtime: Runtime, data: bytes, content_type: str, config: Any, *, session: AsyncSession | None = None,
                     org_id: str | None = None, conversation_id: str | None = None) -> VoiceInput:  # fmt: skip
    language, keyterms = await _speaker_hints(session, org_id, conversation_id)
    return await transcribe_voice_message(runtime, data, content_type, config, language=language, keyterms=keyterms)


async def store_audio(runtime: Runtime, conv: Conversation, message_id: str, data: bytes, content_type: str) -> tuple[str | None, str | None]:
    if runtime.blobs is None:
        return None, None
    base = "audio/mpeg" if "mpeg" in content_type else "audio/wav"
    return await store_original(runtime, conv.org_id, conv.id, message_id, data, base), base


async def discard_audio(runtime: Runtime, keys: list[str | None]) -> None:
    for key in keys:
        await discard(runtime, key)


async def source_for(runtime: Runtime, message: Message, long_lived: bool, base_url: str = "") -> dict[str, Any]:
    """``{url, expires_at, content_type}`` for a voice message's original audio (a URL this server serves)."""
    if message.format != "voice" or not message.audio_key:
        raise BadRequest("The message is a text message.")
    if runtime.blobs is None or "speech" not in runtime.extras:
        raise NotFound("The audio of this message is not available on this server.")
    return message_source(runtime, key=message.audio_key, content_type=message.audio_content_type,
                          base_url=base_url, long_lived=long_lived)  # fmt: skip
