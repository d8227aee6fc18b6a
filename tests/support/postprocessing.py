"""Helpers for post-processing tests: finished conversations written through the models (as the finish use case
does, scheduling post-processing in the same transaction), a worker that drains one org's jobs, and a loopback
webhook receiver."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from dataclasses import dataclass, field

from tertulia.analysis import schedule_post_processing
from tertulia.conversation.models import Conversation, Interaction, Message
from tertulia.core.clock import utcnow
from tertulia.core.ids import new_object_id
from tertulia.jobs.settings import JobSettings
from tertulia.jobs.worker import Worker
from tertulia.service.models import Service

FAST = JobSettings(backoff_base_seconds=0.05, backoff_max_seconds=0.2, webhook_backoff_seconds=[0.05, 0.1],
                   lease_seconds=30, poll_seconds=0.05)


async def make_service(db, org_id: str) -> str:  # noqa: ANN001
    who = {"org_id": org_id, "user_id": "tester"}
    async with db.sessions() as session:
        row = Service(org_id=org_id, name=f"svc-{new_object_id()[-6:]}", agent_id=new_object_id(),
                      service_hierarchical_state_machine_id=new_object_id(), creator=who, updated_by=who)
        session.add(row)
        await session.commit()
        return row.id


@dataclass
class FinishedConversation:
    id: str
    message_ids: list[str]
    interaction_ids: list[str]


async def finish_conversation(
    db, org_id: str, user_id: str, service_id: str, turns: list[tuple[str, str]], *, is_test: bool = False  # noqa: ANN001
) -> FinishedConversation:
    """``turns``: (agent message, user reply) pairs; the user's last reply closes the conversation."""
    async with db.sessions() as session:
        conv = Conversation(org_id=org_id, user_id=user_id, service_id=service_id, version_set_info={"name": "release"},
                            is_test=is_test, is_finished=True, finished_at=utcnow(), open_key=None)
        session.add(conv)
        await session.flush()
        message_ids, interaction_ids, position = [], [], 0
        for index, (agent_text, user_text) in enumerate(turns):
            interaction = Interaction(org_id=org_id, conversation_id=conv.id, sequence=index)
            session.add(interaction)
            await session.flush()
            interaction_ids.append(interaction.id)
            for sender, text, kind in ((user_id, user_text, "user-message"), ("agent", agent_text, "agent-message")):
                if index == 0 and kind == "user-message":
                    continue  # the opening turn has no user message
                message = Message(org_id=org_id, conversation_id=conv.id, interaction_id=interaction.id,
                                  position=position, sender=sender, message=text, message_type=kind)
                session.add(message)
                await session.flush()
                message_ids.append(message.id)
                position += 1
        conv.num_messages = len(message_ids)
        conv.num_interactions = len(interaction_ids)
        await schedule_post_processing(session, conv)
        await session.commit()
        return FinishedConversation(conv.id, message_ids, interaction_ids)


async def drain(runtime, org_id: str, timeout: float = 20.0, settings: JobSettings = FAST) -> None:  # noqa: ANN001
    """Run the org's jobs (including retries that become due) until none is queued or running."""
    from sqlalchemy import func, select

    from tertulia.jobs.models import QUEUED, RUNNING, Job

    worker = Worker(runtime, settings, org_id=org_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await worker.run_one():
            continue
        async with runtime.db.sessions() as session:
            pending = await session.scalar(select(func.count()).select_from(Job).where(
                Job.org_id == org_id, Job.status.in_([QUEUED, RUNNING])))
        if not pending:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("jobs did not finish in time")


@dataclass
class Received:
    headers: dict[str, str]
    body: str


@dataclass
class WebhookReceiver:
    """A tiny HTTP server on 127.0.0.1 recording every POST; answers the queued status codes, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def events(self) -> list[dict]:
        return [json.loads(r.body) for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
