"""OpenAI-compatible speech APIs over HTTP: ``POST {base}/audio/transcriptions`` and ``POST {base}/audio/speech``.

Works with OpenAI and the many servers that mimic it (speaches, LocalAI, vLLM, ...). Audio goes out as WAV and
comes back as WAV, which every such server supports.
"""

from __future__ import annotations

import re

import httpx

from tertulia.speech.audio import decode_upload, encode_wav
from tertulia.speech.ports import Pcm, SttOptions, Transcript, VoiceOptions

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _client(base_url: str, api_key: str | None, transport: httpx.AsyncBaseTransport | None, timeout: float) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout, transport=transport)


class OpenAITranscriber:
    name = "openai"

    def __init__(self, base_url: str, api_key: str | None = None, model: str = "whisper-1", *,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 120.0) -> None:  # fmt: skip
        self.client = _client(base_url, api_key, transport, timeout)
        self.model = model

    async def transcribe(self, audio: Pcm, options: SttOptions) -> Transcript:
        data = {"model": self.model, "response_format": "json"}
        if options.language:
            data["language"] = options.language
        if options.keyterms:
            data["prompt"] = ", ".join(options.keyterms)  # the documented way to bias spelling of names and terms
        files = {"file": ("audio.wav", encode_wav(audio), "audio/wav")}
        response = await self.client.post("audio/transcriptions", data=data, files=files)
        response.raise_for_status()
        body = response.json()
        return Transcript(text=str(body.get("text", "")).strip(), language=body.get("language"), duration=audio.duration)

    async def aclose(self) -> None:
        await self.client.aclose()


class OpenAISpeaker:
    name = "openai"

    def __init__(self, base_url: str, api_key: str | None = None, model: str = "tts-1", default_voice: str = "alloy", *,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 120.0) -> None:  # fmt: skip
        self.client = _client(base_url, api_key, transport, timeout)
        self.model = model
        self.default_voice = default_voice

    def voice_name(self, voice: VoiceOptions) -> str:
        # Amigo voice ids are vendor UUIDs (Cartesia); those mean nothing to an OpenAI-style server.
        if voice.voice_id and not _UUID.match(voice.voice_id):
            return voice.voice_id
        return self.default_voice

    async def synthesize(self, text: str, voice: VoiceOptions) -> Pcm:
        body = {"model": self.model, "input": text, "voice": self.voice_name(voice), "response_format": "wav"}
        if isinstance(voice.extra.get("speed"), int | float):
            body["speed"] = voice.extra["speed"]
        response = await self.client.post("audio/speech", json=body)
        response.raise_for_status()
        return decode_upload(response.content, response.headers.get("content-type"), None).pcm

    async def aclose(self) -> None:
        await self.client.aclose()
