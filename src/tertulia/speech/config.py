"""``request_audio_config``: a JSON-encoded ``UserMessageAudioConfig`` in the query string."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from tertulia.core.errors import Unprocessable


class Mp3Config(BaseModel):
    type: Literal["mp3"] = "mp3"


class PcmConfig(BaseModel):
    type: Literal["pcm"] = "pcm"
    frame_rate: int = Field(ge=4000, le=44100)
    n_channels: Literal[1]
    sample_width: Literal[2, 4]


AudioConfig = Annotated[Mp3Config | PcmConfig, Field(discriminator="type")]
_adapter: TypeAdapter = TypeAdapter(AudioConfig)


def parse_audio_config(raw: str | None) -> Mp3Config | PcmConfig | None:
    """None when absent; 422 (like any invalid query parameter) when it is not a valid config."""
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise Unprocessable("request_audio_config must be a JSON object.") from None
    try:
        return _adapter.validate_python(value)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Unprocessable(f"Invalid request_audio_config: {problems}") from None


