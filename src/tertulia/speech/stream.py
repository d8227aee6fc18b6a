"""``SpeechStream``: speak a reply while it is still being generated, for a caller that owns the event loop.

The turn code forwards each LLM fragment with ``feed``; every completed sentence is synthesized at once in a
worker thread (the engine keeps streaming meanwhile). ``ready`` hands back, in order and without waiting, the pieces
already spoken; ``finish`` speaks the rest once the reply is complete. ``cancel`` drops pending work on failure.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

from tertulia.speech.alignment import align
from tertulia.speech.audio import encode, resample
from tertulia.speech.ports import Pcm, VoiceOptions
from tertulia.speech.sentences import SentenceSplitter
from tertulia.speech.voice import PCM, SpokenPiece, join_pieces, output_sample_rate, require_tts


class SpeechStream:
    def __init__(self, runtime: Any, voice_config: dict | None = None, audio_type: str = PCM) -> None:
        require_tts(runtime)
        self.runtime = runtime
        self.voice = VoiceOptions.from_config(voice_config)
        self.audio_type = audio_type
        self.rate = output_sample_rate(runtime)
        self.splitter = SentenceSplitter()
        self.pending: list[tuple[str, asyncio.Task[Pcm]]] = []
        self.pieces: list[SpokenPiece] = []
        self.text = ""
        self._offset_ms = 0

    def feed(self, fragment: str) -> None:
        self.text += fragment
        for sentence in self.splitter.feed(fragment):
            self._start(sentence)

    def _start(self, sentence: str) -> None:
        self.pending.append((sentence, asyncio.ensure_future(self._synthesize(sentence))))

    async def _synthesize(self, sentence: str) -> Pcm:
        pcm = await self.runtime.tts.synthesize(sentence, self.voice)
        return await asyncio.to_thread(resample, pcm, self.rate)

    def _piece(self, sentence: str, pcm: Pcm) -> SpokenPiece:
        audio = encode(pcm, self.audio_type)
        piece = SpokenPiece(
            text=sentence,
            pcm=pcm,
            message=base64.b64encode(audio).decode("ascii"),
            transcript_alignment=align(sentence, pcm, self._offset_ms),
            offset_ms=self._offset_ms,
        )
        self._offset_ms += int(round(pcm.duration * 1000))
        self.pieces.append(piece)
        return piece

    def ready(self) -> list[SpokenPiece]:
        """Pieces whose audio is done, in order, without waiting (raises if a synthesis failed)."""
        out = []
        while self.pending and self.pending[0][1].done():
            sentence, task = self.pending.pop(0)
            out.append(self._piece(sentence, task.result()))
        return out

    async def finish(self, full_text: str | None = None) -> AsyncIterator[SpokenPiece]:
        """Speak what is left. ``full_text`` covers a reply that arrived whole instead of as fragments."""
        if not self.text and full_text:
            self.feed(full_text)
        for sentence in self.splitter.flush():
            self._start(sentence)
        while self.pending:
            sentence, task = self.pending.pop(0)
            yield self._piece(sentence, await task)

    def cancel(self) -> None:
        for _, task in self.pending:
            task.cancel()
        self.pending.clear()

    def wav(self) -> bytes:
        """The whole reply as one WAV, to keep as the agent message's source."""
        return join_pieces(self.pieces, self.rate)
