"""Metrics (head + immutable versions) and their evaluation results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, OrgScoped, UTCDateTime


class Metric(OrgScoped, Base):
    __tablename__ = "metrics"

    name: Mapped[str] = mapped_column(String(256))
    applied_to_services: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    additional_notes: Mapped[str | None] = mapped_column(String(4096), default=None)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metric_value_type: Mapped[str] = mapped_column(String(16))  # boolean | numerical | categorical
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_by: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MetricVersion(OrgScoped, Base):
    __tablename__ = "metric_versions"
    __table_args__ = (UniqueConstraint("metric_id", "version"),)

    metric_id: Mapped[str] = mapped_column(String(24), index=True)
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)  # the judge prompt: what to measure and how
    metric_value: Mapped[dict[str, Any]] = mapped_column(JSONType)  # {"type": ..., bounds | categories}
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)


class MetricEvaluationResult(OrgScoped, Base):
    """One judged value. ``result_key`` makes re-runs overwrite instead of duplicating: one post-session result
    per (conversation, metric) and one manual result per (conversation, metric)."""

    __tablename__ = "metric_evaluation_results"
    __table_args__ = (UniqueConstraint("result_key"),)

    metric_id: Mapped[str] = mapped_column(String(24), index=True)
    metric_version: Mapped[int] = mapped_column(Integer)
    value: Mapped[dict[str, Any]] = mapped_column(JSONType)  # {"result": number | bool | str | null}
    justification: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[dict[str, Any]] = mapped_column(JSONType)  # EvaluationSource, exactly as answered
    source_type: Mapped[str] = mapped_column(String(16), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(24), default=None, index=True)
    result_key: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
