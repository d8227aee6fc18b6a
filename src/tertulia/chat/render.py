"""How ``tertulia chat`` shows a turn: the reply as it streams, and the agent's actions (``current-agent-action``
events) as dimmed lines beside it — the state path, the dynamic behavior that triggered, tool calls, reflections,
memory lookups. ``insights_table`` renders ``/insights``. User and agent text is printed as plain text (never as
rich markup)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

SHORT = 90


def _short(value: Any, limit: int = SHORT) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_action(action: dict[str, Any], behaviors: dict[str, str]) -> str | None:
    """One dimmed line for an agent action, or None for the ones not worth a line (reply fragments, progress)."""
    kind = action.get("type", "")
    if kind == "select-dynamic-behavior-completed":
        info = action.get("selected_dynamic_behavior_set_version_info")
        if not info:
            return None
        return f"behavior: {behaviors.get(info[0], info[0])} (v{info[1]})"
    if kind.endswith("dynamic-behavior-override") and action.get("overriding_instructions"):
        return "behavior overrides the state's instructions" if kind.startswith("navigate") else None
    if kind == "navigate-state-machine-state-transitioned":
        return f"state: {action['prev_state']} → {action['next_state']}"
    if kind == "navigate-state-machine-exit-condition-selected":
        return f"exit: {_short(action['exit_condition'], 70)}"
    if kind == "navigate-state-machine-decision-state-decision-started":
        return "deciding…"
    if kind == "navigate-state-machine-action-state-action-selected":
        return f"action: {_short(action['action'])}"
    if kind == "navigate-state-machine-reflection-state-reflection-generated":
        return f"reflection: {_short(action['reflection'])}"
    if kind == "navigate-state-machine-annotation-state-annotation-retrieved":
        return f"annotation: {_short(action['annotation'])}"
    if kind == "check-if-active-memory-needed-completed" and action.get("queries"):
        return f"memory lookup: {_short(action['queries'])}"
    if kind == "navigate-state-machine-recall-state-dynamic-queries-generated":
        return f"recall: {_short(action['dynamic_queries'])}"
    if kind == "tool-call-started":
        return f"tool: {action['tool_id']}({_short(action.get('input_params', {}), 60)})"
    if kind == "tool-call-ended":
        return f"tool: {action['tool_id']} → {_short(action.get('result', ''), 60)} ({action.get('duration', 0):.1f} s)"
    if kind == "navigate-state-machine-tool-call-state-tool-output-available":
        return f"tool: {action['tool_id']} → {_short(action.get('tool_output', ''), 60)}"
    if kind == "action-too-long":
        return f"(taking a while: {_short(action.get('filler', ''), 60)})"
    return None


class TurnPrinter:
    """Feeds one turn's events to the console. Actions that arrive while a reply line is open wait until it ends,
    so the reply's text stays in one piece."""

    def __init__(self, console: Console, agent: str, behaviors: dict[str, str]) -> None:
        self.console = console
        self.agent = agent
        self.behaviors = behaviors
        self.reply_open = False
        self.pending: list[str] = []
        self.states: list[str] = []
        self.conversation_id: str | None = None
        self.interaction_id: str | None = None
        self.completed = False
        self.error: str | None = None

    def _dim(self, line: str) -> None:
        self.console.print(Text(f"  · {line}", style="dim"))

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "conversation-created":
            self.conversation_id = event["conversation_id"]
        elif kind == "current-agent-action":
            action = event.get("action") or {}
            if action.get("type") == "navigate-state-machine-state-transitioned":
                self.states = self.states or [action["prev_state"]]
                self.states.append(action["next_state"])
            line = describe_action(action, self.behaviors)
            if line is None:
                return
            if self.reply_open:
                self.pending.append(line)
            else:
                self._dim(line)
        elif kind == "new-message":
            if not self.reply_open:
                self.console.print(Text(f"{self.agent} › ", style="bold cyan"), end="")
                self.reply_open = True
            self.console.print(Text(event.get("message", "")), end="")
            self.console.file.flush()
        elif kind == "interaction-complete":
            self.interaction_id = event["interaction_id"]
            self.completed = bool(event.get("conversation_completed"))
            self.end()
        elif kind == "error":
            self.error = f"{event.get('http_error_code')}: {event.get('error_description')}"
            self.end()
            self.console.print(Text(f"error {self.error}", style="bold red"))

    def end(self) -> None:
        if self.reply_open:
            self.console.print()
            self.reply_open = False
        for line in self.pending:
            self._dim(line)
        self.pending.clear()
        if len(self.states) > 1:
            self._dim("path: " + " → ".join(self.states))


def insights_table(insights: dict[str, Any], behaviors: dict[str, str]) -> Table:
    table = Table(title="insights of the last interaction", show_header=False, title_style="bold", box=None,
                  padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    table.add_row("state", Text(str(insights.get("current_state_name"))))
    table.add_row("objective", Text(str(insights.get("current_state_objective") or "")))
    table.add_row("action", Text(str(insights.get("current_state_action") or "")))
    logs = insights.get("state_transition_logs") or []
    if logs:
        path = [logs[0].get("previous_state")] + [log.get("next_state") for log in logs]
        table.add_row("path", Text(" → ".join(str(p) for p in path)))
    info = insights.get("triggered_dynamic_behavior_set_version_info")
    table.add_row("behavior", Text(f"{behaviors.get(info[0], info[0])} (v{info[1]})" if info else "none"))
    for memory in insights.get("working_memory") or []:
        table.add_row("memory", Text(_short(memory, 200)))
    for reflection in insights.get("reflections") or []:
        table.add_row("reflection", Text(_short(reflection, 200)))
    for name in ("select_next_action_tool_call_logs", "engage_user_tool_call_logs"):
        for call in insights.get(name) or []:
            table.add_row("tool", Text(_short(call, 200)))
    return table
