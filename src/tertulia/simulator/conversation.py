"""One simulated conversation: the simulated user opens as the scenario says, then answers the agent turn by turn
until the objective is reached (the user finishes the conversation), the agent completes it, or
``max_interactions`` agent turns have passed without either (a failure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from tertulia.auth.principal import Principal
from tertulia.conversation.models import Conversation
from tertulia.conversation.repository import mark_simulated
from tertulia.conversation.service import SIMULATION_RUN_TAG
from tertulia.runtime import Runtime
from tertulia.simulator import simulated_user, turn_driver
from tertulia.simulator.simulated_user import Persona, Scenario

OBJECTIVE_REACHED = "objective-reached"
COMPLETED = "conversation-completed"
MAX_INTERACTIONS = "max-interactions"
ERRORED = "error"


@dataclass
class Plan:
    service_id: str
    version_set: str
    agent_version_info: list[Any]
    graph_version_info: list[Any]
    max_interactions: int
    persona: Persona
    scenario: Scenario
    user_model: str | None
    user_model_params: dict[str, Any]
    tags: dict[str, str]


@dataclass
class Outcome:
    stop_reason: str = ERRORED
    conversation_id: str | None = None
    interactions: int = 0
    error: str | None = None
    transcript: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failure(self) -> str | None:
        if self.stop_reason == MAX_INTERACTIONS:
            return f"Failed: max_interactions ({self.interactions}) reached before the scenario's objective."
        return None


class _Stop(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


async def _mark_and_check(runtime: Runtime, who: Principal, conversation_id: str, plan: Plan) -> None:
    """Mark the conversation as simulated (out of ordinary listings), and check it runs on the versions the run
    pinned (a version set may move between runs)."""
    async with runtime.db.unit_of_work() as session:
        await mark_simulated(session, who.org_id, conversation_id, plan.tags[SIMULATION_RUN_TAG])
        info = await session.scalar(select(Conversation.version_set_info).where(
            Conversation.org_id == who.org_id, Conversation.id == conversation_id))
    info = info or {}
    if (list(info.get("agent_version_info") or []) != list(plan.agent_version_info)
            or list(info.get("service_hierarchical_state_machine_version_info") or []) != list(plan.graph_version_info)):
        raise _Stop(
            f"The version set {plan.version_set!r} changed after the run was created (pinned agent "
            f"{plan.agent_version_info}, graph {plan.graph_version_info}; now {info.get('agent_version_info')}, "
            f"{info.get('service_hierarchical_state_machine_version_info')})."
        )


async def _ask(runtime: Runtime, plan: Plan, outcome: Outcome, opening: str | None = None) -> simulated_user.Decision:
    try:
        return await simulated_user.decide(
            runtime.llm, plan.persona, plan.scenario, outcome.transcript, model=plan.user_model,
            params=plan.user_model_params, opening=opening,
        )
    except Exception as exc:  # noqa: BLE001 - the simulated user's model failed: the repetition errored
        raise _Stop(f"The simulated user's model failed: {type(exc).__name__}: {exc}") from exc


def _record(outcome: Outcome, result: turn_driver.TurnResult) -> None:
    if result.error:
        raise _Stop(f"The agent's turn failed: {result.error}")
    outcome.interactions += 1
    outcome.transcript.append(("agent", result.agent_message))


async def simulate(runtime: Runtime, who: Principal, plan: Plan, outcome: Outcome) -> Outcome:
    """Runs the conversation, filling ``outcome`` as it goes (a cancelled run keeps what happened so far)."""
    try:
        opening = plan.scenario.initial_message_type
        message = None
        if opening in ("user-message", "external-event"):
            message = (await _ask(runtime, plan, outcome, opening=opening)).message
            outcome.transcript.append(("user" if opening == "user-message" else "event", message))
        result = await turn_driver.open_conversation(
            runtime, who, service_id=plan.service_id, version_set=plan.version_set, message=message,
            message_type=opening if message is not None else None, tags=plan.tags,
        )
        outcome.conversation_id = result.conversation_id
        _record(outcome, result)
        assert outcome.conversation_id is not None
        await _mark_and_check(runtime, who, outcome.conversation_id, plan)
        while True:
            if result.conversation_completed:
                outcome.stop_reason = COMPLETED
                return outcome
            decision = await _ask(runtime, plan, outcome)
            if decision.objective_reached:
                problem = await turn_driver.finish(runtime, who, outcome.conversation_id)
                if problem:
                    raise _Stop(f"Finishing the conversation failed: {problem}")
                outcome.stop_reason = OBJECTIVE_REACHED
                return outcome
            if outcome.interactions >= plan.max_interactions:
                outcome.stop_reason = MAX_INTERACTIONS
                return outcome
            outcome.transcript.append(("user", decision.message))
            result = await turn_driver.interact(runtime, who, outcome.conversation_id, message=decision.message,
                                                message_type="user-message")
            _record(outcome, result)
    except _Stop as stop:
        outcome.stop_reason, outcome.error = ERRORED, stop.error
        return outcome
