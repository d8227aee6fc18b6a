"""The one start-up line: version, database (path or host, never a password), LLM provider and model, embedder,
speech engines, blob store, worker, rate limits, tracing, metrics and prompt logs. Logged by ``build_runtime`` (so
``tertulia serve`` and ``tertulia worker`` both say what they run on); in JSON mode each item is its own key."""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger("tertulia.startup")


def database_label(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - an unparsable URL fails at connect; never echo it (it may hold a password)
        return "unparsable URL"
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ":memory:"
        return f"sqlite {os.path.abspath(path) if path != ':memory:' else path}"
    host = parsed.host or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    user = f"{parsed.username}@" if parsed.username else ""
    return f"{parsed.get_backend_name()} {user}{host}{port}/{parsed.database or ''}"


def _host(url: Any) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(str(url)) if url else None
    return parts.netloc.rsplit("@", 1)[-1] if parts and parts.netloc else "api.openai.com"


def _base(port: Any) -> Any:
    http = getattr(port, "http", None)
    if http is not None and getattr(http, "base", None):
        return http.base
    client = getattr(port, "client", None)
    return getattr(client, "base_url", None)


def describe(port: Any) -> str:
    """A short, secret-free description of an adapter."""
    port = getattr(port, "inner", port)
    if port is None:
        return "none"
    name = type(port).__name__
    if name == "OpenAICompatLLM":
        return f"openai-compatible ({_host(_base(port))}) model {port.default_model}"
    if name == "LlamaLocalLLM":
        runtime = getattr(port, "runtime", None)
        return f"local llama.cpp{f' ({runtime})' if isinstance(runtime, str) else ''} {os.path.basename(port.model_path)}"
    if name == "ScriptedLLM":
        return "fake (scripted)"
    if name == "UnconfiguredLLM":
        return "NOT CONFIGURED (every turn fails)"
    if name == "OpenAICompatEmbedder":
        return f"openai-compatible ({_host(_base(port))}) model {port.model}"
    if name == "OnnxSentenceEmbedder":
        return "local all-MiniLM-L6-v2 (onnxruntime)"
    if name == "FakeEmbedder":
        return "hashing bag-of-words (no embedding model)"
    if name == "FilesystemBlobStore":
        return f"filesystem {os.path.abspath(port.root)}"
    if name == "S3BlobStore":
        return f"s3 bucket {port.bucket}"
    if hasattr(port, "client") and hasattr(port.client, "base_url"):
        return f"{name} ({_host(port.client.base_url)})"
    return name


def summary_fields(runtime: Any) -> dict[str, str]:
    from tertulia import __version__
    from tertulia.observability import metrics, tracing
    from tertulia.observability.settings import ObservabilitySettings

    obs = ObservabilitySettings()
    limiter = runtime.limiter
    if limiter is None or not getattr(limiter, "enabled", False):
        limits = "off"
    else:
        limits = "on (redis)" if runtime.settings.redis_url else "on (in-process memory)"
    retention = obs.prompt_log_retention_days
    return {
        "version": __version__,
        "database": database_label(runtime.settings.database_url),
        "llm": describe(runtime.llm),
        "embedder": describe(runtime.embedder),
        "speech_to_text": describe(runtime.stt),
        "text_to_speech": describe(runtime.tts),
        "blob_store": describe(runtime.blobs),
        "worker": "on" if runtime.worker_task is not None else "off",
        "rate_limits": limits,
        "tracing": "on (OTLP)" if tracing.sdk_active() else "off",
        "metrics": ("on, multi-process" if metrics.multiprocess_dir() else "on") if obs.metrics_enabled else "off",
        "prompt_logs": f"on, kept {retention:g} days" if retention else "off",
    }


def log_summary(runtime: Any) -> dict[str, str]:
    fields = summary_fields(runtime)
    text = ", ".join(f"{k}={v}" for k, v in fields.items() if k != "version")
    log.info("tertulia %s starting: %s", fields["version"], text, extra={"startup": fields})
    return fields
