"""Simulation tuning, from the environment (prefix ``TERTULIA_SIMULATION_``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SimulationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TERTULIA_SIMULATION_", env_file=".env", extra="ignore")

    concurrency: int = 2  # simulated conversations of one run queued or running at once
    user_model: str | None = None  # the simulated user's model; else the version set's "SimulateUser" preference
    cancel_poll_seconds: float = 0.5  # how often a running conversation checks whether its run was cancelled
    artifact_url_ttl_seconds: int = 3600
    job_max_attempts: int = 3  # a simulated conversation whose worker died is restarted from scratch this often
