"""Text-to-speech through the ``espeak-ng`` program (Debian package ``espeak-ng``), run as a separate process.

Robotic but tiny, offline and licence-neutral for this project (no linking). ``voice_config.voice_id`` is used as
the espeak voice when espeak knows it (e.g. ``en-us``, ``en-gb``), else the configured default.
"""

from __future__ import annotations

import asyncio
import shutil

from tertulia.speech.audio import decode_wav
from tertulia.speech.ports import Pcm, VoiceOptions


def available() -> bool:
    return shutil.which("espeak-ng") is not None


class EspeakTTS:
    name = "espeak-ng"

    def __init__(self, voice: str = "en-us") -> None:
        self.binary = shutil.which("espeak-ng") or "espeak-ng"
        self.voice = voice

    async def _run(self, voice: str, text: str) -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            self.binary, "--stdout", "-v", voice, "--", text,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, _ = await process.communicate()
        return process.returncode or 0, out

    async def synthesize(self, text: str, voice: VoiceOptions) -> Pcm:
        chosen = voice.voice_id if voice.voice_id and all(c.isalnum() or c in "-_+" for c in voice.voice_id) else self.voice
        code, out = await self._run(chosen, text)
        if (code != 0 or not out) and chosen != self.voice:
            code, out = await self._run(self.voice, text)
        if code != 0 or not out:
            raise RuntimeError(f"espeak-ng failed with exit code {code}")
        return decode_wav(out)
