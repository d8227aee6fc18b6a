"""``retrieve-message-source``: the stored original audio of a voice message, as a signed, expiring URL."""

from __future__ import annotations

from typing import Any

from tertulia.conversation.models import Message
from tertulia.core.errors import BadRequest, NotFound
from tertulia.runtime import Runtime
from tertulia.speech.voice import message_source


async def source_for(runtime: Runtime, message: Message, long_lived: bool, base_url: str = "") -> dict[str, Any]:
    """``{url, expires_at, content_type}`` for a voice message's original audio (a URL this server serves)."""
    if message.format != "voice" or not message.audio_key:
        raise BadRequest("The message is a text message.")
    if runtime.blobs is None or runtime.speech is None:
        raise NotFound("The audio of this message is not available on this server.")
    return message_source(runtime, key=message.audio_key, content_type=message.audio_content_type,
                          base_url=base_url, long_lived=long_lived)  # fmt: skip
