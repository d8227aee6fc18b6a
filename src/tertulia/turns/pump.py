"""The turn pump: runs the engine for a ``TurnPlan``, yields the wire events as they come, saves the outcome.

* an interact's inputs are read once its first events are out (``service.load_pending``); then
* the engine runs while the events stream; its actions and reply fragments are forwarded as they come (voice
  replies are spoken sentence by sentence);
* the whole turn is written by ``TurnStore.save`` in ONE transaction at the end, conditional on still holding the
  lease;
* any failure yields an ``error`` event and nothing of the turn persists; a consumer that stops reading (a client
  that disconnects) leaves nothing either. In every case the lease is released in ``finally`` under a shielded
  cancel scope (a create's reservation with it) and any audio already stored is removed.

``pump`` yields event dicts (the in-process runner collects them); ``ndjson_body`` encodes them for HTTP.

Observed (``observer.TurnObserver``): turn latency / first-event metrics by service, the interaction id
in every log line of the turn, and, when prompt logs are on, every LLM call's prompt and output (stored in its own
short transaction when the turn ends, whatever the outcome).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson

from tertulia.engine.contract import AgentAction, EngineError, Fragment, TurnOutcome
from tertulia.engine.turn import run_turn
from tertulia.engine.wiring import make_ports
from tertulia.observability import context
from tertulia.runtime import Runtime
from tertulia.turns.contract import TurnPlan, TurnStore
from tertulia.turns.observer import TurnObserver
from tertulia.turns.service import load_pending
from tertulia.turns.streaming import FinalLines
from tertulia.turns.voice import discard_audio, speech_stream, store_reply_audio

log = logging.getLogger("tertulia.turns")


def ndjson(event: dict[str, Any]) -> bytes:
    """One event as a JSON line (orjson: compact, datetimes as ISO 8601 like ``isoformat``, tuples as lists)."""
    return orjson.dumps(event, default=_json_default, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


async def ndjson_body(events: AsyncIterator[dict[str, Any]], ids: dict[str, str] | None = None) -> AsyncIterator[bytes]:
    """The HTTP body: one JSON object per line. Closing this generator closes the pump (its cleanup runs).

    The pump runs in a task of its own and the body sends, in ONE write, every line it has produced since the last
    write: events that come out together (the actions after a decision, reply fragments read from one network read)
    cost one send instead of one each, and none waits for another (a lone event is sent at once). The turn's last
    lines come as ``FinalLines``, which end the body in the same write. ``ids``: the log context of that task for
    its whole life (the turn's observer then finds them set and sets nothing per step)."""
    lines: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()

    async def produce() -> None:
        if ids:
            context.set_ids(**ids)  # this task's own context: nothing outside it sees them
        try:
            async for event in events:
                lines.put_nowait(ndjson(event))
        except BaseException as exc:  # noqa: BLE001 - handed to the body, which re-raises it
            lines.put_nowait(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            lines.put_nowait(None)

    producer = asyncio.create_task(produce())
    try:
        while True:
            batch = [await lines.get()]
            while not lines.empty():
                batch.append(lines.get_nowait())
            finished = batch[-1] is None or any(isinstance(item, BaseException) for item in batch)
            ready = [item for item in batch if isinstance(item, bytes)]
            failure = next((item for item in batch if isinstance(item, BaseException)), None)
            if ready:  # the turn's last lines are marked so: the body's end goes out with them
                data = b"".join(ready)
                yield FinalLines(data) if finished and failure is None else data
            if failure is not None and not isinstance(failure, asyncio.CancelledError):
                raise failure
            if finished:
                return
    finally:
        with anyio.CancelScope(shield=True):
            if not producer.done():
                producer.cancel()
            with contextlib.suppress(BaseException):
                await producer
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()


def error_event(code: int, description: str) -> dict[str, Any]:
    return {"type": "error", "http_error_code": code, "error_description": description}


def _piece(plan: TurnPlan, text: str, sequence: int, stop: bool) -> dict[str, Any]:
    return {
        "type": "new-message",
        "message": text,
        "message_metadata": [],
        "transcript_alignment": None,
        "stop": stop,
        "sequence_number": sequence,
        "message_id": plan.agent_message_id,
    }


def _voice_piece(plan: TurnPlan, piece: Any, sequence: int) -> dict[str, Any]:
    """A spoken sentence: base64 audio in ``message`` and its ``[ms, char]`` transcript alignment."""
    return {**_piece(plan, piece.message, sequence, stop=False), "transcript_alignment": piece.transcript_alignment}


async def pump(runtime: Runtime, store: TurnStore, plan: TurnPlan) -> AsyncIterator[dict[str, Any]]:
    """The events of one turn (see the module docstring)."""
    renewal = store.renewal(plan)
    renewal.start()
    saved = False
    speech: Any = None
    observer = TurnObserver(runtime, org_id=plan.org_id, conversation_id=plan.conversation_id,
                            interaction_id=plan.interaction_id, service_id=plan.service_id, user_id=plan.user_id)
    result = "cancelled"  # until the turn is saved or fails: a consumer that stops reading cancels it
    try:
        for event in plan.leading_events:
            yield event
        await load_pending(store, plan)  # an interact's transcript, behaviors and user: read after the first event
        await observer.open()
        ports = make_ports(runtime, memories=plan.memories)  # the user's memory retriever, if any
        outcome: TurnOutcome | None = None
        held: str | None = None  # the latest fragment, sent once we know whether it is the last
        sequence = 0
        speech = speech_stream(runtime, plan)  # voice replies: speak sentence by sentence as the text streams
        async for event in observer.events(run_turn(plan.request, ports)):
            observer.seen()
            if isinstance(event, AgentAction):
                kind = str(event.action.get("type", ""))
                if plan.emit_actions and plan.action_filter is not None and plan.action_filter.search(kind):
                    yield {"type": "current-agent-action", "action": event.action}
            elif isinstance(event, Fragment) and speech is not None:
                speech.feed(event.text)
                for piece in speech.ready():
                    yield _voice_piece(plan, piece, sequence)
                    sequence += 1
            elif isinstance(event, Fragment):
                if held is not None:
                    yield _piece(plan, held, sequence, stop=False)
                    sequence += 1
                held = event.text
            elif isinstance(event, TurnOutcome):
                outcome = event
        if outcome is None:
            raise EngineError("The agent ended the turn without a reply.")
        if speech is not None:
            async for piece in speech.finish(outcome.agent_message):
                yield _voice_piece(plan, piece, sequence)
                sequence += 1
            yield _piece(plan, "", sequence, stop=True)  # closes the audio stream: no more audio
            await store_reply_audio(runtime, plan, speech)
        else:
            yield _piece(plan, held if held is not None else outcome.agent_message, sequence, stop=True)
        with anyio.CancelScope(shield=True):
            await store.save(plan, outcome)
        saved = True
        result = "ok"
        yield {
            "type": "interaction-complete",
            "message_id": plan.agent_message_id,
            "interaction_id": plan.interaction_id,
            "full_message": outcome.agent_message,
            "final_message": outcome.agent_message,  # seed 004's examples read evt.final_message
            "conversation_completed": bool(outcome.conversation_completed),
        }
    except EngineError as exc:
        result = "error"
        yield error_event(exc.http_error_code, exc.description)
    except Exception as exc:  # noqa: BLE001 - reported in-band: the status line is already sent
        result = "error"
        log.exception("turn %s of conversation %s failed", plan.interaction_id, plan.conversation_id)
        yield error_event(500, f"The interaction failed and was rolled back ({type(exc).__name__}).")
    finally:
        renewal.stop()
        if speech is not None:
            speech.cancel()
        if not saved:
            await discard(runtime, store, plan)
        with anyio.CancelScope(shield=True):
            await observer.finish(result)


async def discard(runtime: Runtime, store: TurnStore, plan: TurnPlan) -> None:
    """Leave nothing of a failed or abandoned turn: its stored audio goes and the lease is released (a create's
    reservation with it). Nothing else was written: the outcome is written only by ``TurnStore.save``."""
    with anyio.CancelScope(shield=True):
        await discard_audio(runtime, [m.audio_key for m in plan.new_messages] + [plan.agent_audio_key])
        await store.release(plan)
