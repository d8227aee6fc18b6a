"""Helpers for the speech tests: real engines loaded once per process, word error rate, audio builders."""

from __future__ import annotations

import re
from functools import lru_cache

from tertulia.speech.adapters.piper import PiperTTS
from tertulia.speech.adapters.whisper import FasterWhisperSTT
from tertulia.speech.ports import Pcm, VoiceOptions


@lru_cache
def tts() -> PiperTTS:
    """Piper without sampling noise: the same text is the same audio in every run, so a word-error bar either holds
    or fails for good (with the voice's default noise, one synthesis in a few missed the 0.2 bar)."""
    return PiperTTS(threads=2, noise_scale=0.0, noise_w_scale=0.0)


@lru_cache
def stt() -> FasterWhisperSTT:
    return FasterWhisperSTT(threads=2)


@lru_cache
def spoken(text: str) -> Pcm:
    """``text`` spoken by the embedded voice (22,050 Hz), cached per process."""
    return tts().synthesize_sync(text, VoiceOptions())


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / max(len(ref), 1)
