"""Attach the speech adapters to the runtime: ``runtime.stt``, ``runtime.tts``, ``runtime.blobs`` and
``runtime.speech`` (settings and the URL signer). Picked up by ``tertulia.wiring``.

``auto`` providers: an OpenAI-compatible base URL when configured, else the embedded engine when its package is
installed (faster-whisper + tiny.en for speech-to-text; piper + joe voice, then espeak-ng, for text-to-speech),
else none (voice requests then answer 400). Models load lazily on first use.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tertulia.speech.blobs import FilesystemBlobStore, S3BlobStore, UrlSigner
from tertulia.speech.context import SpeechContext
from tertulia.speech.settings import SpeechSettings

log = logging.getLogger("tertulia.speech")


def build_stt(settings: SpeechSettings) -> Any:
    provider = settings.stt_provider.lower()
    if provider == "none":
        return None
    if provider == "fake":
        from tertulia.speech.fakes import FakeSTT

        return FakeSTT()
    if provider == "openai" or (provider == "auto" and settings.stt_base_url):
        from tertulia.speech.adapters.openai_compat import OpenAITranscriber

        if not settings.stt_base_url:
            raise RuntimeError("TERTULIA_STT_PROVIDER=openai needs TERTULIA_STT_BASE_URL.")
        return OpenAITranscriber(settings.stt_base_url, settings.stt_api_key, settings.stt_model)
    from tertulia.speech.adapters import whisper

    if provider == "faster-whisper" or (provider == "auto" and (whisper.available() or settings.whisper_model)):
        return whisper.FasterWhisperSTT(
            settings.whisper_model,
            threads=settings.speech_threads,
            compute_type=settings.whisper_compute_type,
            beam_size=settings.whisper_beam_size,
        )
    if provider != "auto":
        raise RuntimeError(f"Unknown TERTULIA_STT_PROVIDER {settings.stt_provider!r}.")
    log.info("no speech-to-text engine: install tertulia[voice] or set TERTULIA_STT_BASE_URL")
    return None


def build_tts(settings: SpeechSettings) -> Any:
    provider = settings.tts_provider.lower()
    if provider == "none":
        return None
    if provider == "fake":
        from tertulia.speech.fakes import FakeTTS

        return FakeTTS()
    if provider == "openai" or (provider == "auto" and settings.tts_base_url):
        from tertulia.speech.adapters.openai_compat import OpenAISpeaker

        if not settings.tts_base_url:
            raise RuntimeError("TERTULIA_TTS_PROVIDER=openai needs TERTULIA_TTS_BASE_URL.")
        return OpenAISpeaker(settings.tts_base_url, settings.tts_api_key, settings.tts_model, settings.tts_voice)
    from tertulia.speech.adapters import espeak, piper

    if provider == "piper" or (provider == "auto" and (piper.available() or settings.piper_voice)):
        return piper.PiperTTS(settings.piper_voice, threads=settings.speech_threads,
                              noise_scale=settings.piper_noise_scale, noise_w_scale=settings.piper_noise_w_scale)
    if provider in ("espeak", "espeak-ng") or (provider == "auto" and espeak.available()):
        return espeak.EspeakTTS(settings.espeak_voice)
    if provider != "auto":
        raise RuntimeError(f"Unknown TERTULIA_TTS_PROVIDER {settings.tts_provider!r}.")
    log.info("no text-to-speech engine: install tertulia[piper], Debian's espeak-ng, or set TERTULIA_TTS_BASE_URL")
    return None


def build_blobs(settings: SpeechSettings, data_dir: Path) -> Any:
    if settings.blob_store == "s3":
        if not settings.s3_bucket:
            raise RuntimeError("TERTULIA_BLOB_STORE=s3 needs TERTULIA_S3_BUCKET.")
        return S3BlobStore(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region, prefix=settings.s3_prefix)
    if settings.blob_store != "filesystem":
        raise RuntimeError(f"Unknown TERTULIA_BLOB_STORE {settings.blob_store!r}.")
    return FilesystemBlobStore(Path(settings.blob_dir) if settings.blob_dir else Path(data_dir) / "blobs")


async def attach(runtime: Any, settings: SpeechSettings | None = None) -> None:
    settings = settings or SpeechSettings()
    runtime.stt = runtime.stt or build_stt(settings)
    runtime.tts = runtime.tts or build_tts(settings)
    runtime.blobs = runtime.blobs or build_blobs(settings, runtime.settings.data_dir)
    explicit = "public_base_url" in runtime.settings.model_fields_set
    runtime.speech = SpeechContext(
        settings=settings,
        signer=UrlSigner(runtime.jwt_secret),
        public_base_url=runtime.settings.public_base_url if explicit else None,
    )
    closers = runtime.closers
    for adapter in (runtime.stt, runtime.tts):
        if hasattr(adapter, "aclose"):
            closers.append(adapter.aclose)
