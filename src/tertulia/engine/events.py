"""Builders for the ``current-agent-action`` wire objects (``CurrentAgentActionEvent.action``).

The SDK parses these with non-discriminated unions, so every builder returns the ``type`` literal and every required
field, named exactly as in the OpenAPI components (``*Event`` schemas). Version infos are ``[id, version]`` lists.
"""

from __future__ import annotations

from typing import Any

from tertulia.engine.contract import AgentAction

VersionInfo = list  # [id, version]


def _a(type_: str, **fields: Any) -> AgentAction:
    return AgentAction({"type": type_, **fields})


# -- dynamic behavior selection ---------------------------------------------------------------------------------


def dbs_vector_generated() -> AgentAction:
    return _a("select-dynamic-behavior-vector-generated")


def dbs_relevance_retrieval_completed() -> AgentAction:
    return _a("select-dynamic-behavior-relevance-retrieval-completed")


def dbs_completed(selected: tuple[str, int] | None, previous: tuple[str, int] | None) -> AgentAction:
    return _a(
        "select-dynamic-behavior-completed",
        selected_dynamic_behavior_set_version_info=list(selected) if selected else None,
        previous_selected_dynamic_behavior_set_version_info=list(previous) if previous else None,
    )


# -- active memory ------------------------------------------------------------------------------------------------


def memory_check_completed(queries: list[str]) -> AgentAction:
    return _a("check-if-active-memory-needed-completed", queries=list(queries))


def memory_extract_completed(queries_and_responses: list[tuple[str, str]]) -> AgentAction:
    return _a("extract-active-memories-completed", queries_and_responses=[[q, r] for q, r in queries_and_responses])


# -- navigation -----------------------------------------------------------------------------------------------------


def nav_behavior_override(overriding_instructions: bool, overriding_tool_candidates: bool) -> AgentAction:
    return _a(
        "navigate-state-machine-dynamic-behavior-override",
        overriding_instructions=overriding_instructions,
        overriding_tool_candidates=overriding_tool_candidates,
    )


def action_selected(action: str) -> AgentAction:
    return _a("navigate-state-machine-action-state-action-selected", action=action)


def decision_started() -> AgentAction:
    return _a("navigate-state-machine-decision-state-decision-started")


def exit_condition_selected(exit_condition: str, next_state_name: str, next_info: VersionInfo) -> AgentAction:
    return _a(
        "navigate-state-machine-exit-condition-selected",
        exit_condition=exit_condition,
        next_state_name=next_state_name,
        next_state_state_machine_version_info=list(next_info),
    )


def state_transitioned(prev_state: str, prev_info: VersionInfo, next_state: str, next_info: VersionInfo) -> AgentAction:
    return _a(
        "navigate-state-machine-state-transitioned",
        prev_state=prev_state,
        prev_state_state_machine_version_info=list(prev_info),
        next_state=next_state,
        next_state_state_machine_version_info=list(next_info),
    )


def recall_static_queries(static_queries: list[str]) -> AgentAction:
    return _a("navigate-state-machine-recall-state-static-queries-retrieved", static_queries=list(static_queries))


def recall_dynamic_queries(dynamic_queries: list[str], requested_information: str) -> AgentAction:
    return _a(
        "navigate-state-machine-recall-state-dynamic-queries-generated",
        dynamic_queries=list(dynamic_queries),
        requested_information=requested_information,
    )


def recall_memory_retrieved(queries_and_responses: list[tuple[str, str]]) -> AgentAction:
    return _a(
        "navigate-state-machine-recall-state-active-memory-retrieved",
        queries_and_responses=[[q, r] for q, r in queries_and_responses],
    )


def reflection_prompt(prompt: str) -> AgentAction:
    return _a("navigate-state-machine-reflection-state-prompt-retrieved", prompt=prompt)


def reflection_generated(reflection: str) -> AgentAction:
    return _a("navigate-state-machine-reflection-state-reflection-generated", reflection=reflection)


def annotation_retrieved(annotation: str) -> AgentAction:
    return _a("navigate-state-machine-annotation-state-annotation-retrieved", annotation=annotation)


def designated_tool_retrieved(tool_id: str, tool_version: str) -> AgentAction:
    return _a("designated-tool-retrieved", tool_id=tool_id, tool_version=tool_version)


def designated_params_generated(tool_id: str, tool_version: str, params: dict[str, Any]) -> AgentAction:
    return _a("designated-tool-call-params-generated", tool_id=tool_id, tool_version=tool_version, tool_call_params=params)


def tool_output_available(
    tool_id: str, tool_version: str, output: str, duration: float, input_arguments: dict[str, Any]
) -> AgentAction:
    return _a(
        "navigate-state-machine-tool-call-state-tool-output-available",
        tool_id=tool_id,
        tool_version=tool_version,
        tool_output=output,
        duration=float(duration),
        input_arguments=input_arguments,
    )


def tool_call_started(round_index: int, tool_id: str, tool_version: str, params: dict[str, Any]) -> AgentAction:
    return _a(
        "tool-call-started", tool_round_index=round_index, tool_id=tool_id, tool_version=tool_version, input_params=params
    )


def tool_call_ended(
    round_index: int, tool_id: str, tool_version: str, params: dict[str, Any], result: str, duration: float
) -> AgentAction:
    return _a(
        "tool-call-ended",
        tool_round_index=round_index,
        tool_id=tool_id,
        tool_version=tool_version,
        input_parameters=params,
        result=result,
        duration=float(duration),
    )


def action_too_long(filler: str, previously_started_event: dict[str, Any]) -> AgentAction:
    """A voice filler: the step started by ``previously_started_event`` (its wire object) is taking too long."""
    return _a("action-too-long", filler=filler, previously_started_event=previously_started_event)


# -- engage -----------------------------------------------------------------------------------------------------------


def engage_behavior_override(overriding_instructions: bool, overriding_tool_candidates: bool) -> AgentAction:
    return _a(
        "engage-user-dynamic-behavior-override",
        overriding_instructions=overriding_instructions,
        overriding_tool_candidates=overriding_tool_candidates,
    )


def message_fragment(index: int, fragment: str, is_final: bool) -> AgentAction:
    return _a("engage-user-message-fragment-generated", index=index, fragment=fragment, is_final=is_final)


# -- insights ---------------------------------------------------------------------------------------------------------


def transition_log(
    type_: str, previous_state: str, previous_info: VersionInfo, next_state: str, next_info: VersionInfo, **extra: Any
) -> dict[str, Any]:
    """One ``StateTransitionLog`` (typed by the state being left; ``jumpback`` for a sub-graph return)."""
    return {
        "type": type_,
        "previous_state": previous_state,
        "previous_service_hierarchical_state_machine_version_info": list(previous_info),
        "next_state": next_state,
        "next_service_hierarchical_state_machine_version_info": list(next_info),
        **extra,
    }


def tool_call_log(
    tool_name: str, tool_id: str, tool_version: str, input_: dict[str, Any], output: str | None, duration: float
) -> dict[str, Any]:
    return {
        "tool_name": tool_name,
        "tool_id": tool_id,
        "tool_version": tool_version,
        "input": input_,
        "output": output,
        "duration": float(duration),
    }
