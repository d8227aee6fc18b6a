"""Speech benchmark: real-time factors of the embedded engines and time to the first spoken piece.

    python benchmarks/speech.py [--threads 2] [--llm-tokens-per-second 30]

RTF = processing time / audio duration (lower is better; < 1 is faster than real time). Time to first audio piece
is measured from the first LLM fragment to the first base64 audio piece leaving ``speak``, with the reply streamed
word by word at the given rate.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from tertulia.speech.adapters.piper import PiperTTS
from tertulia.speech.adapters.whisper import FasterWhisperSTT
from tertulia.speech.ports import SttOptions, VoiceOptions
from tertulia.speech.voice import PCM, speak

SENTENCES = [
    "Please book a table for two people tomorrow evening.",
    "I would like to change my appointment to next Monday morning.",
    "The weather has been quite cold and rainy this week.",
    "Can you remind me to take my medicine after lunch?",
    "My favourite books are about history and travel.",
]
REPLY = (
    "Of course, I can help you with that. I have moved your appointment to Monday at nine in the morning. "
    "You will get a reminder the evening before. Is there anything else you would like to change?"
)


class _Runtime:
    def __init__(self, tts) -> None:
        self.tts, self.stt, self.blobs, self.extras = tts, None, None, {}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--llm-tokens-per-second", type=float, default=30.0)
    args = parser.parse_args()

    started = time.perf_counter()
    tts = PiperTTS(threads=args.threads)
    tts.warm()
    tts_load = time.perf_counter() - started
    started = time.perf_counter()
    stt = FasterWhisperSTT(threads=args.threads)
    stt.warm()
    stt_load = time.perf_counter() - started
    print(f"load: piper {tts_load:.2f} s, faster-whisper tiny.en {stt_load:.2f} s (threads={args.threads})")

    tts_rtf, stt_rtf, audio = [], [], []
    for sentence in SENTENCES:
        t0 = time.perf_counter()
        pcm = tts.synthesize_sync(sentence, VoiceOptions())
        tts_rtf.append((time.perf_counter() - t0) / pcm.duration)
        audio.append(pcm)
    for sentence, pcm in zip(SENTENCES, audio, strict=True):
        t0 = time.perf_counter()
        text = stt.transcribe_sync(pcm, SttOptions(language="en")).text
        stt_rtf.append((time.perf_counter() - t0) / pcm.duration)
        print(f"  {pcm.duration:4.1f} s  heard: {text}")
    import numpy as np

    from tertulia.speech.ports import Pcm

    joined = Pcm(np.concatenate([p.samples for p in audio]), audio[0].sample_rate)
    t0 = time.perf_counter()
    stt.transcribe_sync(joined, SttOptions(language="en"))
    long_rtf = (time.perf_counter() - t0) / joined.duration
    print(f"TTS (piper joe-medium, 22050 Hz) RTF: mean {statistics.mean(tts_rtf):.3f}, max {max(tts_rtf):.3f}")
    print(f"STT (faster-whisper tiny.en int8) RTF: mean {statistics.mean(stt_rtf):.3f}, max {max(stt_rtf):.3f} on short clips "
          f"(whisper pads to 30 s windows); {long_rtf:.3f} on one {joined.duration:.0f} s clip")

    delay = 1.0 / args.llm_tokens_per_second

    async def fragments():
        for word in REPLY.split(" "):
            yield word + " "
            await asyncio.sleep(delay)

    for audio_type in (PCM, "audio/mpeg"):
        t0 = time.perf_counter()
        first = None
        count = 0
        async for _piece in speak(_Runtime(tts), fragments(), None, audio_type):
            first = first if first is not None else time.perf_counter() - t0
            count += 1
        total = time.perf_counter() - t0
        print(
            f"time to first audio piece ({audio_type}, LLM at {args.llm_tokens_per_second:g} words/s): "
            f"{first * 1000:.0f} ms; {count} pieces, whole reply {total:.2f} s "
            f"(reply text alone streams in {len(REPLY.split()) * delay:.2f} s)"
        )


if __name__ == "__main__":
    asyncio.run(main())
