"""The ``tertulia chat`` loop: start (or resume) a conversation with one service, then read a line, send it, show the
streamed reply with the agent's actions. Commands: ``/insights`` (the last interaction's insights), ``/finish``
(finish the conversation), ``/new`` (finish it and start another), ``/help``, ``/quit`` (Ctrl-D too; the
conversation stays open and the next ``tertulia chat`` resumes it). Ctrl-C during a reply stops it: the turn is
not saved, as with any client that disconnects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.text import Text

from tertulia.chat.api import ChatApi, ChatError
from tertulia.chat.render import TurnPrinter, insights_table

HELP = "/insights  /finish  /new  /help  /quit   (anything else is sent to the agent)"


class ChatSession:
    def __init__(self, api: ChatApi, console: Console, service_wanted: str | None) -> None:
        self.api = api
        self.console = console
        self.service = api.find_service(service_wanted)
        self.agent = api.agent_name(self.service["agent_id"])
        self.behaviors = api.behavior_names()
        self.conversation_id: str | None = None
        self.interaction_id: str | None = None
        self.finished = False

    def note(self, text: str, style: str = "dim") -> None:
        self.console.print(Text(text, style=style))

    def _turn(self, events: Iterator[dict[str, Any]]) -> TurnPrinter:
        printer = TurnPrinter(self.console, self.agent, self.behaviors)
        try:
            for event in events:
                printer.feed(event)
        except KeyboardInterrupt:
            printer.end()
            self.note("(reply interrupted: this turn is not saved)", "yellow")
        self.interaction_id = printer.interaction_id or self.interaction_id
        if printer.completed:
            self.finished = True
            self.note("The agent ended the conversation: /new to start another, /quit to leave.", "yellow")
        return printer

    def start(self, resume: bool = True) -> None:
        existing = self.api.unfinished_conversation(self.service["id"]) if resume else None
        if existing:
            self.conversation_id, self.finished = existing, False
            self.note(f"Resuming conversation {existing} with {self.service['name']} (/new starts over):")
            for message in self.api.last_messages(existing):
                who = self.agent if message["message_type"] == "agent-message" else "you"
                style = "bold cyan" if who == self.agent else "bold green"
                self.console.print(Text(f"  {who}: ", style=style) + Text(message["message"], style="dim"))
                self.interaction_id = message["interaction_id"]
            return
        self.note(f"New conversation with {self.service['name']} ({self.agent}). {HELP}")
        printer = self._turn(self.api.start(self.service["id"]))
        self.conversation_id, self.finished = printer.conversation_id, printer.completed

    def finish(self) -> None:
        if self.conversation_id and not self.finished:
            self.api.finish(self.conversation_id)
            self.note(f"Conversation {self.conversation_id} finished.", "yellow")
        self.finished = True

    def command(self, line: str) -> bool:
        """Run one command; False means leave."""
        name = line.split()[0].lower()
        if name in ("/quit", "/exit"):
            return False
        if name == "/help":
            self.note(HELP)
        elif name == "/insights":
            if not (self.conversation_id and self.interaction_id):
                self.note("No interaction yet.")
            else:
                self.console.print(insights_table(self.api.insights(self.conversation_id, self.interaction_id),
                                                  self.behaviors))
        elif name == "/finish":
            self.finish()
            self.note("/new starts another conversation, /quit leaves.")
        elif name == "/new":
            self.finish()
            self.interaction_id = None
            self.start(resume=False)
        else:
            self.note(f"Unknown command {name}. {HELP}", "yellow")
        return True

    def say(self, text: str) -> None:
        if self.finished or not self.conversation_id:
            self.note("This conversation is finished: /new to start another.", "yellow")
            return
        self._turn(self.api.interact(self.conversation_id, text))

    def loop(self) -> None:
        self.start()
        while True:
            try:
                line = self.console.input(Text("you › ", style="bold green")).strip()
            except EOFError:
                self.console.print()
                break
            except KeyboardInterrupt:
                self.console.print()
                continue
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if not self.command(line):
                        break
                else:
                    self.say(line)
            except ChatError as exc:
                self.note(str(exc), "bold red")
        if self.conversation_id and not self.finished:
            self.note(f"Conversation {self.conversation_id} left open: `tertulia chat` resumes it.")
