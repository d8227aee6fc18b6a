"""Everything one turn accumulates while it runs (shared by the pipeline steps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tertulia.engine.contract import BehaviorVersion, InnerThought, Ports, TurnRequest
from tertulia.engine.graph import Graphs
from tertulia.engine.routing import TurnLLM


@dataclass
class BehaviorEffect:
    """What the selected dynamic behavior does to the states visited this turn."""

    behavior: BehaviorVersion | None = None
    instructions: list[str] = field(default_factory=list)
    overrides_instructions: bool = False
    tool_specs: list[dict[str, Any]] = field(default_factory=list)
    overrides_tools: bool = False

    @classmethod
    def of(cls, behavior: BehaviorVersion | None) -> BehaviorEffect:
        effect = cls(behavior)
        for action in (behavior.actions if behavior else []) or []:
            if action.get("type") == "inject-instruction":
                effect.instructions.append(str(action.get("instruction", "")))
                effect.overrides_instructions |= bool(action.get("overrides_instructions"))
            elif action.get("type") == "change-tool-candidates":
                effect.tool_specs.extend(action.get("tool_call_specs") or [])
                effect.overrides_tools |= bool(action.get("overrides_existing_tool_call_specs"))
        return effect

    @property
    def active(self) -> bool:
        return self.behavior is not None

    def apply(self, state: dict[str, Any]) -> dict[str, Any]:
        """An action state as the behavior reshapes it (guidance merged or replaced, tools added or replaced)."""
        if not self.active:
            return state
        state = dict(state)
        if self.overrides_instructions:
            state["intra_state_navigation_guidelines"] = list(self.instructions)
            state["action_guidelines"] = list(self.instructions)
        elif self.instructions:
            state["action_guidelines"] = list(state.get("action_guidelines") or []) + self.instructions
        if self.tool_specs:
            own = [] if self.overrides_tools else list(state.get("action_tool_call_specs") or [])
            state["action_tool_call_specs"] = own + self.tool_specs
        return state


@dataclass
class TurnContext:
    request: TurnRequest
    ports: Ports
    llm: TurnLLM
    graphs: Graphs
    effect: BehaviorEffect = field(default_factory=BehaviorEffect)
    working_memory: list[dict[str, str]] = field(default_factory=list)
    reflections: list[str] = field(default_factory=list)
    inner_thoughts: list[InnerThought] = field(default_factory=list)
    transition_logs: list[dict[str, Any]] = field(default_factory=list)
    performed_queries: list[str] = field(default_factory=list)
    select_next_action_tool_call_logs: list[list[dict[str, Any]]] = field(default_factory=list)
    engage_user_tool_call_logs: list[list[dict[str, Any]]] = field(default_factory=list)

    def remember(self, content: str, context: str) -> None:
        item = {"content": content, "context": context}
        if item not in self.working_memory:
            self.working_memory.append(item)
