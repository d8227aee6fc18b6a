"""The speech ports. Adapters live in ``speech/adapters``; fakes for tests in ``speech/fakes.py``.

Audio crosses the ports as ``Pcm``: 16-bit signed little-endian mono samples at a stated rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Pcm:
    """Mono 16-bit PCM audio."""

    samples: np.ndarray  # int16, shape (n,)
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0

    def to_bytes(self) -> bytes:
        return self.samples.astype("<i2", copy=False).tobytes()

    @staticmethod
    def from_float(audio: np.ndarray, sample_rate: int) -> Pcm:
        clipped = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        return Pcm((clipped * 32767.0).astype(np.int16), sample_rate)

    def to_float(self) -> np.ndarray:
        return self.samples.astype(np.float32) / 32768.0


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None = None
    duration: float = 0.0


@dataclass(frozen=True)
class SttOptions:
    """What the caller knows about the speaker: ISO 639-1 language and the user's ``audio_keyterms``."""

    language: str | None = None
    keyterms: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class VoiceOptions:
    """The agent's ``voice_config`` (``voice_id``, optional ``stability``/``similarity_boost``/``style``)."""

    voice_id: str | None = None
    extra: dict = field(default_factory=dict)

    @staticmethod
    def from_config(voice_config: dict | None) -> VoiceOptions:
        config = dict(voice_config or {})
        return VoiceOptions(voice_id=config.pop("voice_id", None), extra=config)


class SpeechToText(Protocol):
    name: str

    async def transcribe(self, audio: Pcm, options: SttOptions) -> Transcript:
        """Transcribe mono PCM (any rate; adapters resample as they need)."""
        ...


class TextToSpeech(Protocol):
    name: str

    async def synthesize(self, text: str, voice: VoiceOptions) -> Pcm:
        """Speak one short text (a sentence) and return its audio."""
        ...


@dataclass(frozen=True)
class Blob:
    data: bytes
    content_type: str


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> Blob | None: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every blob whose key starts with ``prefix`` (a folder such as ``"{org_id}/"``); returns how many."""
        ...
