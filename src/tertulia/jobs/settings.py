"""Job queue tuning, from the environment (prefix ``TERTULIA_JOBS_``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class JobSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TERTULIA_JOBS_", env_file=".env", extra="ignore")

    in_process: bool = False  # a worker inside every process that builds a runtime (`tertulia serve` turns it on)
    concurrency: int = 4  # jobs one worker runs at once
    poll_seconds: float = 1.0
    lease_seconds: float = 60.0  # a claimed job whose worker stops heartbeating is reclaimed after this
    backoff_base_seconds: float = 2.0  # retry n waits base * 2**(n-1), capped
    backoff_max_seconds: float = 600.0
    handler_modules: list[str] = []  # extra modules registering job kinds (plugins; tests' slow jobs)
    webhook_timeout_seconds: float = 10.0
    webhook_backoff_seconds: list[float] = [5.0, 10.0, 20.0, 20.0]  # wait before retry 1, 2, 3, 4 (last repeats)
    api_key_expiry_notice_days: float = 7.0  # `api-key-expiration-soon` once a key is this close to expiring
    api_key_scan_seconds: float = 300.0  # how often the expiring-keys scan job runs (one run per period, cluster-wide)
