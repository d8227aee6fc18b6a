"""Context-graph lookups: states across the main and referenced graphs, targets (sibling names and
``["ref.state", "jumpback"]`` tuples), the jumpback stack, and action states with the graph's globals appended."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tertulia.engine.contract import EngineError, GraphVersion, StatePointer, TurnRequest


@dataclass
class Position:
    graph: GraphVersion
    state: dict[str, Any]
    stack: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.state["name"]

    @property
    def info(self) -> list:
        return [self.graph.graph_id, self.graph.version]

    def pointer(self) -> StatePointer:
        return StatePointer(self.graph.graph_id, self.graph.version, self.name, [dict(f) for f in self.stack])


class Graphs:
    """Every graph version a turn can reach, indexed by ``(graph_id, version)``."""

    def __init__(self, request: TurnRequest) -> None:
        self.main = request.graph
        self.by_id: dict[tuple[str, int], GraphVersion] = {(request.graph.graph_id, request.graph.version): request.graph}
        for g in request.referenced_graphs.values():
            self.by_id.setdefault((g.graph_id, g.version), g)
        self.by_ref_name = dict(request.referenced_graphs)

    def get(self, graph_id: str, version: int) -> GraphVersion:
        try:
            return self.by_id[(graph_id, int(version))]
        except KeyError:
            raise EngineError(f"Context graph {graph_id} version {version} is not available to this turn.") from None

    @staticmethod
    def state(graph: GraphVersion, name: str) -> dict[str, Any]:
        for s in graph.body.get("states") or []:
            if s.get("name") == name:
                return s
        raise EngineError(f"State {name!r} does not exist in context graph {graph.graph_id} v{graph.version}.")

    def start(self, request: TurnRequest) -> Position:
        if request.state is None:
            key = "returning_user_initial_state" if request.is_returning_user else "new_user_initial_state"
            name = self.main.body.get(key) or self.main.body.get("new_user_initial_state")
            if not name:
                raise EngineError("The context graph has no initial state.")
            return Position(self.main, self.state(self.main, name), [])
        ptr = request.state
        graph = self.get(ptr.graph_id, ptr.graph_version)
        return Position(graph, self.state(graph, ptr.state), [dict(f) for f in ptr.stack])

    def referenced(self, graph: GraphVersion, ref_name: str) -> GraphVersion:
        refs = graph.body.get("references") or {}
        if ref_name in refs:
            graph_id, version = refs[ref_name]
            found = self.by_id.get((graph_id, int(version)))
            if found:
                return found
        if ref_name in self.by_ref_name:
            return self.by_ref_name[ref_name]
        raise EngineError(f"Context graph reference {ref_name!r} is not available to this turn.")

    def target(self, pos: Position, target: Any) -> Position:
        """Where ``next_state`` leads: a sibling, or a referenced graph's state with a pushed jumpback frame."""
        if isinstance(target, str):
            return Position(pos.graph, self.state(pos.graph, target), pos.stack)
        if isinstance(target, (list, tuple)) and len(target) == 2:
            external, jumpback = target
            ref_name, _, state_name = str(external).partition(".")
            if not state_name:
                return Position(pos.graph, self.state(pos.graph, external), pos.stack)
            sub = self.referenced(pos.graph, ref_name)
            self.state(pos.graph, jumpback)  # must exist locally
            frame = {"graph_id": pos.graph.graph_id, "graph_version": pos.graph.version, "jumpback_state": jumpback}
            return Position(sub, self.state(sub, state_name), [*pos.stack, frame])
        raise EngineError(f"Invalid next_state {target!r} in state {pos.name!r}.")

    def is_terminal(self, pos: Position) -> bool:
        return pos.name == pos.graph.body.get("terminal_state")

    def jumpback(self, pos: Position) -> Position:
        frame = pos.stack[-1]
        parent = self.get(frame["graph_id"], frame["graph_version"])
        return Position(parent, self.state(parent, frame["jumpback_state"]), pos.stack[:-1])


def effective_action_state(pos: Position) -> dict[str, Any]:
    """The action state with the graph's global guidelines/constraints appended to its own lists."""
    state = dict(pos.state)
    body = pos.graph.body
    for own, glob in (
        ("intra_state_navigation_guidelines", "global_intra_state_navigation_guidelines"),
        ("action_guidelines", "global_action_guidelines"),
        ("boundary_constraints", "global_boundary_constraints"),
    ):
        state[own] = list(state.get(own) or []) + list(body.get(glob) or [])
    state.setdefault("actions", [])
    state.setdefault("exit_conditions", [])
    return state


def target_label(target: Any) -> str:
    return target if isinstance(target, str) else str(target[0])
