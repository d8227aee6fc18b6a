"""Runtime configuration, read from the environment (prefix ``TERTULIA_``)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TERTULIA_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./tertulia.db",
        description="SQLAlchemy async URL. SQLite file by default; postgresql+asyncpg://... in production.",
    )
    data_dir: Path = Field(default=Path(".tertulia"), description="Where generated secrets and audio files live.")
    jwt_secret: str | None = Field(default=None, description="HS256 key for id tokens; generated and stored if unset.")
    jwt_ttl_seconds: int = 3600
    api_key_pepper: str | None = Field(
        default=None, description="HMAC key for stored API-key hashes (keep it out of the database); generated and "
        "stored in data_dir if unset. Every process of a deployment needs the same value.",
    )
    redis_url: str | None = None
    rate_limits_enabled: bool = True
    rate_limits: str | None = Field(
        default=None, description="Per-operation overrides: JSON object or op=limit,... (see core/rate_config.py)."
    )
    rate_limits_file: Path | None = Field(default=None, description="YAML/JSON file of per-operation rate limits.")

    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = 120.0
    tools_file: str | None = Field(default=None, description="YAML/JSON file mapping tool ids to HTTP endpoints.")
    llm_provider: str = Field(default="auto", description="auto | openai | local | fake")
    local_model_path: str | None = None
    local_runtime: str = Field(default="auto", description="auto | xllamacpp | llama-cpp-python (embedded provider)")
    local_threads: int | None = Field(default=None, gt=0, description="llama.cpp threads; default half the cores")
    embedding_base_url: str | None = None
    embedding_model: str = "all-MiniLM-L6-v2"

    max_transitions_per_turn: int = 12

    # Request limits (checked before any work; see core/body_guard.py and core/message_limits.py).
    max_json_body_bytes: int = Field(default=1024 * 1024, gt=0, description="Largest JSON (non-multipart) body: 413 beyond.")
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, gt=0, description="Largest multipart body (audio upload): 413.")
    max_multipart_parts: int = Field(default=32, gt=0, description="Most parts (fields + files) in a multipart body: 413.")
    max_message_chars: int = Field(default=20_000, gt=0, description="Longest text message a user sends: 422 beyond.")
    decision_reasoning: str = Field(
        default="auto",
        description="auto | none | brief | contrast | checklist | checks: how navigation and behavior decisions "
        "reason before they choose (see engine/README.md). auto = contrast for a local or self-hosted model, none for "
        "a hosted one.",
    )
    decision_orders: int = Field(
        default=0, ge=0, le=2,
        description="A decision state's pick under contrast asked in 1 or 2 exit orders (2: both orders at once, "
        "their token log-probabilities averaged, so the order cannot decide). 0 = auto: 2 for an OpenAI-compatible "
        "server, 1 for the embedded model (one model, one request at a time).",
    )
    exit_checks: str = Field(
        default="auto",
        description="auto | on | off: under contrast, an action state's picked exit checked yes/no on its own and "
        "dropped when the model is confident it does not hold (one more short call on a turn that leaves a state; "
        "needs token log-probabilities). auto = on for an OpenAI-compatible server, off for the embedded model.",
    )
    public_base_url: str = "http://127.0.0.1:8000"

    def resolved_jwt_secret(self) -> str:
        """The configured secret, or one generated once and kept in ``data_dir``."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_dir / "jwt_secret"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


    def resolved_api_key_pepper(self) -> bytes:
        return api_key_pepper(self.api_key_pepper, self.data_dir)


_peppers: dict[tuple[str | None, str], bytes] = {}


def api_key_pepper(configured: str | None, data_dir: Path) -> bytes:
    """The configured pepper, or one generated once in ``data_dir`` (created atomically: processes starting together
    on one data dir agree on it). Cached per process."""
    cache_key = (configured, str(data_dir))
    if cache_key in _peppers:
        return _peppers[cache_key]
    if configured:
        value = configured
    else:
        path = data_dir / "api_key_pepper"
        if not path.exists():
            # Written whole to a private file, then linked into place: link() fails if the name exists, so of
            # processes racing here exactly one pepper wins and nobody reads a half-written file.
            data_dir.mkdir(parents=True, exist_ok=True)
            draft = data_dir / f".api_key_pepper.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        value = path.read_text().strip()
        if not value:
            raise RuntimeError(f"{path} is empty; delete it or set TERTULIA_API_KEY_PEPPER.")
    _peppers[cache_key] = value.encode()
    return _peppers[cache_key]


@lru_cache
def get_settings() -> Settings:
    return Settings()
