"""Structural rules of a context graph version, checked before a version is stored (or on ``dry_run``).

Pure: takes the normalised version body and the states of each referenced graph version, returns the problems
found (empty = valid). The caller turns problems into a 422 (the request body fails validation, as for any other
malformed body); a referenced graph that is missing or deprecated is a 400, decided by the caller.

Rules (the spec's, plus the obvious ones it implies):
* state names unique; names of states and references match ``^[A-Za-z0-9_]+$`` (enforced by the wire model);
* every ``next_state`` / exit-condition target is a local state different from the current one, or a
  ``["<ref>.<state>", "<jumpback>"]`` pair whose reference is declared, whose state exists in the referenced
  graph version, and whose jumpback is a local state;
* ``new_user_initial_state``, ``returning_user_initial_state`` and ``terminal_state`` are local action states;
* the terminal state has exactly one action and no exit conditions; every action state has >= 1 action;
* a recall state has ``queries`` XOR ``requested_information``; a reflection's ``word_limit`` is > 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _targets(state: Mapping[str, Any]) -> list[Any]:
    if state["type"] in ("action", "decision"):
        return [c["next_state"] for c in state.get("exit_conditions") or []]
    return [state["next_state"]]


def _check_target(
    state_name: str,
    target: Any,
    local: set[str],
    references: Mapping[str, Any],
    referenced_states: Mapping[str, set[str]],
) -> str | None:
    if isinstance(target, str):
        if target not in local:
            return f"State {state_name!r} transitions to {target!r}, which is not a state of this graph."
        if target == state_name:
            return f"State {state_name!r} cannot transition to itself."
        return None
    external, jumpback = target
    ref_name, _, ref_state = external.partition(".")
    if ref_name not in references:
        return f"State {state_name!r} transitions to {external!r}, but {ref_name!r} is not in references."
    states = referenced_states.get(ref_name)
    if states is not None and ref_state not in states:
        return f"State {state_name!r} transitions to {external!r}, but the referenced graph has no state {ref_state!r}."
    if jumpback not in local:
        return f"State {state_name!r} jumps back to {jumpback!r}, which is not a state of this graph."
    return None


def graph_problems(body: Mapping[str, Any], referenced_states: Mapping[str, set[str]]) -> list[str]:
    states: Sequence[Mapping[str, Any]] = body["states"]
    problems: list[str] = []
    by_name: dict[str, Mapping[str, Any]] = {}
    for state in states:
        if state["name"] in by_name:
            problems.append(f"State name {state['name']!r} is used more than once.")
        by_name[state["name"]] = state
    local = set(by_name)
    references = body.get("references") or {}

    for field in ("new_user_initial_state", "returning_user_initial_state", "terminal_state"):
        name = body[field]
        if name not in by_name:
            problems.append(f"{field} {name!r} is not a state of this graph.")
        elif by_name[name]["type"] != "action":
            problems.append(f"{field} {name!r} must be an action state (it is a {by_name[name]['type']} state).")

    terminal = by_name.get(body["terminal_state"])
    if terminal is not None and terminal["type"] == "action":
        if len(terminal.get("actions") or []) != 1:
            problems.append(f"The terminal state {terminal['name']!r} must have exactly one action.")
        if terminal.get("exit_conditions"):
            problems.append(f"The terminal state {terminal['name']!r} cannot have exit conditions.")

    for state in states:
        kind = state["type"]
        if kind == "action" and not state.get("actions"):
            problems.append(f"Action state {state['name']!r} needs at least one action.")
        if kind == "recall" and (state.get("queries") is None) == (state.get("requested_information") is None):
            problems.append(f"Recall state {state['name']!r} needs exactly one of queries or requested_information.")
        if kind == "reflection" and not (isinstance(state.get("word_limit"), int) and state["word_limit"] > 0):
            problems.append(f"Reflection state {state['name']!r} needs a positive word_limit.")
        if kind == "decision" and not state.get("exit_conditions"):
            problems.append(f"Decision state {state['name']!r} needs at least one exit condition.")
        for target in _targets(state):
            problem = _check_target(state["name"], target, local, references, referenced_states)
            if problem:
                problems.append(problem)
    return problems
