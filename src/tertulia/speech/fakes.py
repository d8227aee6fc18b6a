"""Fakes at the speech ports, for tests that need voice plumbing but not real engines."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tertulia.speech.ports import Pcm, SttOptions, Transcript, VoiceOptions


class FakeSTT:
    """Answers a scripted transcript (a string, or a function of the audio), and records what it was asked."""

    name = "fake"

    def __init__(self, script: str | Callable[[Pcm, SttOptions], str] = "hello") -> None:
        self.script = script
        self.calls: list[tuple[Pcm, SttOptions]] = []

    async def transcribe(self, audio: Pcm, options: SttOptions) -> Transcript:
        self.calls.append((audio, options))
        text = self.script(audio, options) if callable(self.script) else self.script
        return Transcript(text=text, language=options.language, duration=audio.duration)


class FakeTTS:
    """A 40 ms tone per character (pitch from the character), 16 kHz; records the texts and voices it spoke."""

    name = "fake"
    sample_rate = 16000

    def __init__(self) -> None:
        self.calls: list[tuple[str, VoiceOptions]] = []

    async def synthesize(self, text: str, voice: VoiceOptions) -> Pcm:
        self.calls.append((text, voice))
        per_char = int(0.04 * self.sample_rate)
        t = np.arange(per_char) / self.sample_rate
        tones = [0.5 * np.sin(2 * np.pi * (200 + 5 * (ord(c) % 100)) * t) for c in text]
        audio = np.concatenate(tones) if tones else np.zeros(0)
        return Pcm.from_float(audio, self.sample_rate)
