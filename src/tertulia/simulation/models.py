"""Simulation tables: personas and scenarios (heads + immutable versions), unit tests, unit test sets, and runs.

A unit test set run snapshots everything it runs (``unit_test_run_specs``: pinned service, agent, persona and
scenario versions, metrics) when it is created; each unit test x repetition is one ``SimulationRunItem``, run as one
durable job and settled exactly once (its result is written in the transaction that completes the job).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, OrgScoped, UTCDateTime


class _Audited:
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_by: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SimulationPersona(_Audited, OrgScoped, Base):
    __tablename__ = "simulation_personas"

    name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(256))
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)


class SimulationPersonaVersion(OrgScoped, Base):
    __tablename__ = "simulation_persona_versions"
    __table_args__ = (UniqueConstraint("persona_id", "version"),)

    persona_id: Mapped[str] = mapped_column(String(24), index=True)
    version: Mapped[int] = mapped_column(Integer)
    background: Mapped[str] = mapped_column(Text)
    preferred_language: Mapped[str | None] = mapped_column(String(8), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    user_models: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    nonsensitive_user_variables: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sensitive_user_variables: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SimulationScenario(_Audited, OrgScoped, Base):
    __tablename__ = "simulation_scenarios"

    name: Mapped[str] = mapped_column(String(256))
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)


class SimulationScenarioVersion(OrgScoped, Base):
    __tablename__ = "simulation_scenario_versions"
    __table_args__ = (UniqueConstraint("scenario_id", "version"),)

    scenario_id: Mapped[str] = mapped_column(String(24), index=True)
    version: Mapped[int] = mapped_column(Integer)
    objective: Mapped[str] = mapped_column(Text)
    instructions: Mapped[str] = mapped_column(Text)
    initial_message_type: Mapped[str] = mapped_column(String(16))  # user-message | external-event | skip
    conversation_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SimulationUnitTest(_Audited, OrgScoped, Base):
    __tablename__ = "simulation_unit_tests"

    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text)
    service_id: Mapped[str] = mapped_column(String(24), index=True)
    service_version_set_name: Mapped[str] = mapped_column(String(256))
    persona_id: Mapped[str] = mapped_column(String(24), index=True)
    scenario_id: Mapped[str] = mapped_column(String(24), index=True)
    max_interactions: Mapped[int] = mapped_column(Integer)
    # [{name, metric_id, criterion: {type, ...}}]
    success_criterions: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class SimulationUnitTestSet(_Audited, OrgScoped, Base):
    __tablename__ = "simulation_unit_test_sets"

    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    unit_test_runs: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [{unit_test_id, run_count}]
    last_triggered_run_id: Mapped[str | None] = mapped_column(String(24), default=None)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class SimulationUnitTestSetRun(OrgScoped, Base):
    """``open_key`` is ``"{user}|{set}"`` while the run is unfinished (NULL after): one unfinished run per user per set."""

    __tablename__ = "simulation_unit_test_set_runs"
    __table_args__ = (UniqueConstraint("open_key"),)

    unit_test_set_id: Mapped[str] = mapped_column(String(24), index=True)
    unit_test_run_specs: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # UnitTestRunSpec, as answered
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | completed | cancelled
    is_completed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    failed_metrics: Mapped[bool] = mapped_column(Boolean, default=False)
    errored: Mapped[bool] = mapped_column(Boolean, default=False)
    artifacts_generated: Mapped[bool] = mapped_column(Boolean, default=False)
    artifacts_key: Mapped[str | None] = mapped_column(String(256), default=None)
    total_items: Mapped[int] = mapped_column(Integer, default=0)
    concurrency: Mapped[int] = mapped_column(Integer, default=2)
    open_key: Mapped[str | None] = mapped_column(String(200), default=None)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


PENDING, RUNNING, DONE, CANCELLED = "pending", "running", "done", "cancelled"


class SimulationRunItem(OrgScoped, Base):
    """One simulated conversation: unit test ``unit_test_id``'s repetition ``run_index`` in set run ``run_id``.

    ``position`` orders the items of a run (0..total-1); item ``p`` is enqueued when item ``p - concurrency``
    settles, so at most ``concurrency`` items of a run are queued or running at once."""

    __tablename__ = "simulation_run_items"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    run_id: Mapped[str] = mapped_column(String(24), index=True)
    unit_test_id: Mapped[str] = mapped_column(String(24))
    run_index: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)  # pending | running | done | cancelled
    passed: Mapped[bool | None] = mapped_column(Boolean, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)  # an error (the run "errored")
    failure: Mapped[str | None] = mapped_column(Text, default=None)  # why it failed without an error
    stop_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    conversation_id: Mapped[str | None] = mapped_column(String(24), default=None)
    interactions: Mapped[int] = mapped_column(Integer, default=0)
    # [{metric_id, metric_version, success_criterion_name, result_id, value, passed}]
    metric_results: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
