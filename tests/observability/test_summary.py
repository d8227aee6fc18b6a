"""The start-up summary: what the process runs on, never a password or key."""

from __future__ import annotations

import logging

from tertulia.engine.adapters.openai_compat import OpenAICompatEmbedder, OpenAICompatLLM
from tertulia.observability.summary import database_label, describe, log_summary


def test_database_and_endpoints_are_shown_without_credentials(tmp_path):
    assert database_label("postgresql+asyncpg://app:s3cr3t-pw@db.internal:5432/tertulia") == (
        "postgresql app@db.internal:5432/tertulia")
    assert database_label(f"sqlite+aiosqlite:///{tmp_path}/t.db") == f"sqlite {tmp_path}/t.db"
    llm = OpenAICompatLLM("http://bob:hunter22@10.1.2.3:8080/v1", "sk-live-key-123456789", "qwen2.5")
    embedder = OpenAICompatEmbedder("http://10.1.2.4:9000/v1", "emb-key-987654321", "bge-small")
    assert describe(llm) == "openai-compatible (10.1.2.3:8080) model qwen2.5"
    assert describe(embedder) == "openai-compatible (10.1.2.4:9000) model bge-small"


def test_the_runtime_summary_line(runtime, caplog):
    with caplog.at_level(logging.INFO, logger="tertulia.startup"):
        fields = log_summary(runtime)
    [record] = [r for r in caplog.records if r.name == "tertulia.startup"]
    assert record.startup == fields
    assert fields["llm"] == "fake (scripted)" and fields["worker"] == "off" and fields["rate_limits"] == "off"
    assert fields["embedder"] and fields["blob_store"].startswith(("filesystem ", "s3 "))
    assert fields["database"].startswith(("sqlite /", "postgresql "))
    message = record.getMessage()
    for key in ("database=", "llm=", "embedder=", "speech_to_text=", "text_to_speech=", "blob_store=", "worker=",
                "rate_limits="):
        assert key in message
    assert runtime.jwt_secret not in message
