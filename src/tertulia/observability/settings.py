"""Observability settings (prefix ``TERTULIA_``). OpenTelemetry's own ``OTEL_*`` variables are read by the SDK."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TERTULIA_", env_file=".env", extra="ignore")

    otel_enabled: bool | None = Field(
        default=None,
        description="Traces on/off. Unset: on exactly when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces one) is set.",
    )
    log_format: Literal["text", "json"] = Field(default="text", description="text (human-readable) | json (one object a line)")
    log_level: str = "INFO"
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    prompt_log_retention_days: float = Field(
        default=0, ge=0, description="Keep the rendered prompts and raw outputs of turns' LLM calls this many days; 0 = off."
    )
    prompt_log_purge_seconds: float = Field(default=3600, gt=0, description="How often the prompt-log purge job runs.")

    def tracing_enabled(self) -> bool:
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return False
        if self.otel_enabled is not None:
            return self.otel_enabled
        return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


_RETENTION: dict[str | None, float] = {}


def prompt_log_retention_days() -> float:
    """``prompt_log_retention_days`` as every turn asks for it: building the settings reads the environment and the
    ``.env`` file (~0.3 ms), so the answer is kept per value of ``TERTULIA_PROMPT_LOG_RETENTION_DAYS`` (changing the
    variable takes effect at once; a change to ``.env`` needs a restart, as for every other setting)."""
    raw = os.environ.get("TERTULIA_PROMPT_LOG_RETENTION_DAYS")
    days = _RETENTION.get(raw)
    if days is None:
        days = _RETENTION[raw] = ObservabilitySettings().prompt_log_retention_days
    return days
