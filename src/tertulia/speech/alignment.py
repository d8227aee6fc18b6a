"""``transcript_alignment``: ``[[ms_since_audio_start, character], ...]`` for a spoken piece.

Engines here do not report character timings, so characters are spread over the piece's voiced span in proportion
to a per-character weight (letters and digits take longer than spaces and punctuation). It is an estimate, good
enough for captions and highlighting; an adapter that knows real timings can pass its own.
"""

from __future__ import annotations

import numpy as np

from tertulia.speech.ports import Pcm


def _weight(ch: str) -> float:
    if ch.isalnum():
        return 1.0
    if ch.isspace():
        return 0.6
    return 0.4


def voiced_span(pcm: Pcm, threshold: float = 0.02) -> tuple[float, float]:
    """Start and end (seconds) of the part louder than ``threshold`` of full scale (leading/trailing silence off)."""
    if len(pcm.samples) == 0:
        return 0.0, 0.0
    loud = np.flatnonzero(np.abs(pcm.samples.astype(np.int32)) > threshold * 32767)
    if len(loud) == 0:
        return 0.0, pcm.duration
    return loud[0] / pcm.sample_rate, (loud[-1] + 1) / pcm.sample_rate


def align(text: str, pcm: Pcm, offset_ms: int = 0) -> list[list]:
    """One ``[ms, char]`` per character of ``text``; ``offset_ms`` is where this piece starts in the whole reply."""
    if not text:
        return []
    start, end = voiced_span(pcm)
    weights = np.array([_weight(c) for c in text])
    starts = np.concatenate([[0.0], np.cumsum(weights)[:-1]]) / weights.sum()
    times = offset_ms + (start + starts * max(end - start, 0.0)) * 1000.0
    return [[int(round(t)), c] for t, c in zip(times, text, strict=True)]
