"""Context graphs (the spec's service hierarchical state machines) and their immutable versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.db import Base, JSONType, OrgScoped


class StateMachine(OrgScoped, Base):
    __tablename__ = "state_machines"

    name: Mapped[str] = mapped_column(String(256))
    deprecated: Mapped[bool] = mapped_column(Boolean, default=False)
    latest_version: Mapped[int | None] = mapped_column(Integer, default=None)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)


class StateMachineVersion(OrgScoped, Base):
    __tablename__ = "state_machine_versions"
    __table_args__ = (UniqueConstraint("state_machine_id", "version"),)

    state_machine_id: Mapped[str] = mapped_column(ForeignKey("state_machines.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # The version body exactly as the spec's output: description, states (each with its `type`),
    # new_user_initial_state, returning_user_initial_state, terminal_state, references ({name: [graph_id, version]}),
    # global_intra_state_navigation_guidelines, global_action_guidelines, global_boundary_constraints.
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    creator: Mapped[dict[str, Any]] = mapped_column(JSONType)
