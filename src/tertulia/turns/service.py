"""The turn use cases: create and interact (planned here, streamed by ``pump``), simulate-an-interaction,
recommended responses and conversation starters. They read and write only through a ``TurnStore``; the HTTP
routes (``router.py``) and the in-process runner (``inprocess.py``) both call these."""

from __future__ import annotations

from typing import Any

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import ApiError, BadRequest, Conflict, NotFound, Unavailable, Unprocessable
from tertulia.core.ids import new_object_id
from tertulia.engine.contract import EngineError, TurnOutcome
from tertulia.engine.extras import conversation_starters as starters_engine
from tertulia.engine.extras import recommend_responses as recommend_engine
from tertulia.engine.turn import run_turn
from tertulia.engine.wiring import make_ports
from tertulia.runtime import Runtime
from tertulia.turns import planning
from tertulia.turns.contract import ConversationView, PinnedVersions, TurnInputs, TurnPlan, TurnStore
from tertulia.turns.schemas import (
    CreateConversationRequest,
    GenerateConversationStarterRequest,
    GenerateConversationStarterResponse,
    Prompt,
    RecommendResponsesRequest,
    RecommendResponsesResponse,
    SimulateInteractionRequest,
    SimulateInteractionResponse,
)
from tertulia.turns.voice import VoiceUpload, store_audio, transcribe

MAX_RECOMMENDATIONS = 5
BUSY = "A related operation is in progress on this conversation, or it has finished; retry later."


def _plan(conv: ConversationView, versions: PinnedVersions, who: Principal, token: str, *, interaction_id: str,
          agent_message_id: str, new: list, leading: list, response_format: str, action_filter: Any,
          emit: bool | None, is_opening: bool) -> TurnPlan:  # fmt: skip
    """The plan of a turn holding the lease; its ``request`` comes from the inputs (``_complete``)."""
    return TurnPlan(
        org_id=conv.org_id, conversation_id=conv.id, user_id=conv.user_id, service_id=conv.service_id,
        interaction_id=interaction_id, agent_message_id=agent_message_id, token=token, is_opening=is_opening,
        request=None, agent_sender=planning.agent_name(versions.agent), new_messages=new,
        leading_events=leading, emit_actions=planning.wants_actions(who, conv.attrs, emit), action_filter=action_filter,
        response_format=response_format, conversation=conv,
    )


def _complete(plan: TurnPlan, inputs: TurnInputs) -> None:
    """Fill the plan from the turn's inputs: the engine's request, the user's memories, the last message."""
    planning.name_user_messages(plan.new_messages, inputs)
    plan.request = planning.turn_request(inputs, plan.interaction_id, plan.new_messages, plan.agent_message_id,
                                         utcnow(), voice_response=plan.response_format == "voice")
    plan.memories = inputs.memories
    plan.last_position = inputs.transcript[-1].position if inputs.transcript else -1


async def load_pending(store: TurnStore, plan: TurnPlan) -> None:
    """Read an interact's inputs once its stream has started (``plan.pending``): the transcript window, the active
    behaviors and the user. Everything that can refuse the turn was checked before the lease was taken, and the
    lease keeps the conversation as it was (no other turn completes meanwhile), so these reads can only fail as the
    database can: the stream reports it and the turn leaves nothing."""
    if plan.pending is None or plan.conversation is None:
        return
    inputs = await store.load(plan.conversation, recent=planning.TURN_TRANSCRIPT, versions=plan.pending,
                              replays=False)
    plan.pending = None
    _complete(plan, inputs)


async def plan_create(
    store: TurnStore, runtime: Runtime, who: Principal, body: CreateConversationRequest, response_format: str,
    action_type: str | None, emit: bool | None,
) -> TurnPlan:
    """Validate a create, load its inputs and, as the LAST step, reserve the conversation (holding its lease)."""
    action_filter = planning.compile_action_filter(action_type)
    who.require("Conversation:CreateConversation", {"user_id": who.user_id, "service_id": body.service_id})
    if body.initial_message_type is not None and body.initial_message is None:
        raise Unprocessable("initial_message_type can only be specified together with initial_message.")
    inputs = await store.load_new(who.org_id, who.user_id, body.service_id, body.service_version_set_name,
                                  is_test=body.is_test, tags=dict(body.tags))
    planning.check_voice_output(runtime.tts is not None, inputs.versions.agent, response_format)
    new = planning.opening_messages(inputs, body.initial_message, body.initial_message_type, utcnow())
    interaction_id, agent_message_id = new_object_id(), new_object_id()
    token = await store.reserve(inputs.conversation)
    if token is None:
        raise BadRequest(
            "The user already has an unfinished conversation for this service; finish it before starting another."
        )
    leading = [{"type": "conversation-created", "conversation_id": inputs.conversation.id}]
    plan = _plan(inputs.conversation, inputs.versions, who, token, interaction_id=interaction_id,
                 agent_message_id=agent_message_id, new=new, leading=leading, response_format=response_format,
                 action_filter=action_filter, emit=emit, is_opening=True)
    _complete(plan, inputs)
    return plan


async def open_for_turn(store: TurnStore, who: Principal, conversation_id: str, permission: str) -> ConversationView:
    conv = await store.conversation(who.org_id, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} not found.")
    who.require("User:UpdateUserInfo", {"user_id": conv.user_id})
    who.require(permission, conv.attrs)
    if conv.is_finished:
        raise Conflict(f"Conversation {conversation_id} is already finished.")
    return conv


async def plan_interact(
    store: TurnStore, runtime: Runtime, who: Principal, conversation_id: str, *, message_type: str, text: str,
    external_contents: list[str], external_timestamps: list[str], response_format: str, action_type: str | None,
    emit: bool | None, voice: VoiceUpload | None = None,
) -> TurnPlan:
    """Validate an interact against the conversation as loaded, then take the lease; the lease is conditional on
    no other turn having completed since the load, so what was checked still holds. A voice upload is transcribed
    only after everything that can refuse the turn without hearing it (conversation, permissions, the agent's
    voice config for a voice reply). The rest of the turn's inputs (transcript, behaviors, user) is read once the
    stream has started (``load_pending``), so the first event waits only for the conversation and the lease."""
    action_filter = planning.compile_action_filter(action_type)
    conv = await open_for_turn(store, who, conversation_id, "Conversation:InteractWithConversation")
    stamps = planning.check_interact_input(message_type, text if voice is None else "(recording)", external_contents,
                                           external_timestamps)
    versions = await store.versions(conv)
    planning.check_voice_output(runtime.tts is not None, versions.agent, response_format)
    audio: tuple[bytes, str] | None = None
    if voice is not None:
        heard = await transcribe(runtime, store, voice.data, voice.content_type, voice.config, org_id=conv.org_id,
                                 conversation_id=conv.id)
        text, audio = heard.text, (heard.audio, heard.content_type)
        planning.check_interact_input(message_type, text, external_contents, external_timestamps)
    now = utcnow()
    if stamps:
        planning.check_timestamps(stamps, await store.last_message_at(conv) or conv.created_at, now)
    new, leading = planning.interact_messages(message_type, text, external_contents, stamps, now,
                                              voice=audio is not None)
    token = await store.acquire(conv)
    if token is None:
        raise Conflict(BUSY)
    plan = _plan(conv, versions, who, token, interaction_id=new_object_id(), agent_message_id=new_object_id(),
                 new=new, leading=leading, response_format=response_format, action_filter=action_filter, emit=emit,
                 is_opening=False)
    plan.pending = versions
    if audio is not None and message_type != "skip":  # kept once the turn may run; the pump's cleanup removes it
        try:
            new[-1].audio_key, new[-1].audio_content_type = await store_audio(
                runtime, conv.org_id, conv.id, new[-1].id, *audio
            )
        except BaseException:
            await store.release(plan)  # the stream that would release the lease never starts
            raise
    return plan


class _EngineFailed(ApiError):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = code


async def simulate_interaction(
    store: TurnStore, runtime: Runtime, who: Principal, conversation_id: str, interaction_id: str,
    body: SimulateInteractionRequest,
) -> SimulateInteractionResponse:
    """Seed 002's simulate-an-interaction: re-run an interaction (``planning.replay_request``); persists nothing.
    Side-effect states run like any other state; since nothing is persisted, their effects are discarded."""
    conv = await store.conversation(who.org_id, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} not found.")
    inputs = await store.load(conv)
    if interaction_id not in inputs.replays:
        raise NotFound(f"Interaction {interaction_id} not found in conversation {conversation_id}.")
    who.require("Conversation:InteractWithConversation", conv.attrs)
    request = planning.replay_request(inputs, interaction_id, body.agent_version_override,
                                      body.state_machine_version_override)
    outcome: TurnOutcome | None = None
    try:
        async for event in run_turn(request, make_ports(runtime)):
            if isinstance(event, TurnOutcome):
                outcome = event
    except EngineError as exc:
        raise _EngineFailed(exc.http_error_code, exc.description) from exc
    if outcome is None:
        raise _EngineFailed(502, "The agent ended the simulated turn without a reply.")
    return SimulateInteractionResponse(agent_message=outcome.agent_message, conversation_ended=outcome.conversation_completed)


def _llm_ports(runtime: Runtime) -> Any:
    if runtime.llm is None:
        raise Unavailable("No language model is configured on this server.")
    return make_ports(runtime)


async def _engine(call: Any) -> Any:
    try:
        return await call
    except EngineError as exc:
        raise Unavailable(exc.description) from exc


async def recommend_responses(
    store: TurnStore, runtime: Runtime, who: Principal, conversation_id: str, interaction_id: str,
    body: RecommendResponsesRequest,
) -> RecommendResponsesResponse:
    """Suggest what the user could say next, playing the persona/scenario in ``body.context`` (the spec's default
    is a generic user completing the service). Only for the latest completed interaction of an unfinished
    conversation (400 otherwise). Persists nothing."""
    conv = await store.conversation(who.org_id, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} not found.")
    who.require("Conversation:GetRecommendedResponses", conv.attrs)
    if conv.is_finished:
        raise BadRequest("The conversation is finished.")
    inputs = await store.load(conv)
    latest = next(reversed(inputs.replays), None)
    if latest is None or latest != interaction_id:
        raise BadRequest("The supplied interaction ID doesn't correspond to the latest, completed interaction.")
    replies = await _engine(recommend_engine(
        inputs.versions.agent, planning.visible_history(inputs), _llm_ports(runtime), context=body.context,
        llm_model_preferences=inputs.versions.llm_model_preferences, count=MAX_RECOMMENDATIONS,
    ))
    return RecommendResponsesResponse(recommended_responses=replies)


async def conversation_starters(
    store: TurnStore, runtime: Runtime, who: Principal, body: GenerateConversationStarterRequest
) -> GenerateConversationStarterResponse:
    """Between ``min_count`` and ``max_count`` opening prompts, each about some of the given facets."""
    who.require("Conversation:CreateConversation", {"user_id": who.user_id, "service_id": body.service_id})
    if body.min_count > body.max_count:
        raise Unprocessable("min_count cannot be greater than max_count.")
    inputs = await store.load_new(who.org_id, who.user_id, body.service_id, body.service_version_set_name,
                                  is_test=True, tags={})
    versions = inputs.versions
    made = await _engine(starters_engine(
        versions.agent, versions.graph, _llm_ports(runtime), facets=list(dict.fromkeys(body.facets)),
        min_count=body.min_count, max_count=body.max_count, generation_instructions=body.generation_instructions,
        llm_model_preferences=versions.llm_model_preferences,
    ))
    prompts = [Prompt(prompt=p["prompt"], facets=p["facets"]) for p in made]
    if len(prompts) < body.min_count:
        raise Unavailable("The language model produced too few conversation starters; retry.")
    return GenerateConversationStarterResponse(prompts=prompts[: body.max_count])
