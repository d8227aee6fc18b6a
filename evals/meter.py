"""The metering proxy between a ``tertulia serve`` process and the LLM it is evaluated with (loopback only).

* Forwards ``/v1/*`` to the upstream OpenAI-compatible server and records, per chat completion, what kind of call it
  was (the ``json_schema`` name of a decision: ``select_next_action``, ``select_dynamic_behavior``, ...; ``reply``
  for the streamed agent reply; ``text`` for other free text), its latency and its output tokens (``usage`` of a
  decision; streamed content chunks of a reply, one token each on llama.cpp).
* ``scripted_replies``: the agent's reply is answered here at once with the text of the action the engine chose
  (``## What to do now`` of the reply prompt) instead of by the model. The labelled set measures decisions: scripted
  replies make every model see the same transcript (a run depends on its decisions only) and keep a run on a small
  CPU short. Decisions always go to the model.
* ``/tools/<name>`` answers the evaluation graphs' HTTP tools with their configured output.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTION = re.compile(r"## What to do now\n(.+?)(?:\n|$)")
SITUATION = re.compile(r"## The situation\n(.+?)(?:\n|$)")


@dataclass
class Call:
    kind: str
    ms: float
    output_tokens: int
    ok: bool = True
    answer: str = ""  # a decision's JSON answer (truncated), to read what the model chose
    about: str = ""  # a per-candidate behavior check: the situation it judged (the answers arrive in any order)


@dataclass
class Meter:
    upstream: str  # e.g. http://127.0.0.1:18601 (no /v1)
    scripted_replies: bool = False
    tool_outputs: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    server: ThreadingHTTPServer | None = None
    dump: str = ""  # a JSON-lines file: every decision request (messages, schema) with its answer, to replay as probes

    def start(self) -> str:
        meter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                meter.forward(self, "GET", None)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/tools/"):
                    meter.tool(self, self.path.removeprefix("/tools/"))
                else:
                    meter.forward(self, "POST", body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def since(self, index: int) -> list[Call]:
        with self.lock:
            return list(self.calls[index:])

    def mark(self) -> int:
        with self.lock:
            return len(self.calls)

    def _record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    # -- handlers ----------------------------------------------------------------------------------------------------
    def tool(self, h: BaseHTTPRequestHandler, name: str) -> None:
        out = self.tool_outputs.get(name)
        body = (out if out is not None else json.dumps({"error": f"unknown tool {name}"})).encode()
        h.send_response(200 if out is not None else 404)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def forward(self, h: BaseHTTPRequestHandler, method: str, body: bytes | None) -> None:
        req: dict[str, Any] = {}
        if body and h.path.rstrip("/").endswith("/chat/completions"):
            req = json.loads(body)
        kind = _kind(req) if req else ""
        if kind == "reply" and self.scripted_replies:
            self._scripted(h, req)
            return
        started = time.perf_counter()
        up = urllib.request.Request(self.upstream + h.path, data=body, method=method,
                                    headers={"Content-Type": "application/json"})
        try:
            resp = urllib.request.urlopen(up, timeout=1800)
        except urllib.error.HTTPError as exc:
            resp = exc
        except OSError as exc:
            payload = json.dumps({"error": {"message": f"upstream unreachable: {exc}"}}).encode()
            h.send_response(502)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        h.send_response(resp.status)
        h.send_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        captured = bytearray()
        while True:
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            if kind:
                captured += chunk
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.wfile.flush()
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()
        if kind:
            call = Call(kind, (time.perf_counter() - started) * 1000, _output_tokens(bytes(captured), req),
                        ok=resp.status < 400, answer=_answer(bytes(captured), req), about=_about(req))
            self._record(call)
            if self.dump and not req.get("stream"):
                with self.lock, open(self.dump, "a") as f:
                    f.write(json.dumps({"kind": kind, "answer": call.answer, "request": req}) + "\n")

    def _scripted(self, h: BaseHTTPRequestHandler, req: dict[str, Any]) -> None:
        system = "\n".join(m.get("content") or "" for m in req.get("messages") or [] if m.get("role") == "system")
        found = ACTION.search(system)
        text = found.group(1).strip() if found else "Okay."
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for piece in [text, None]:
            delta = {"content": piece} if piece else {}
            chunk = {"id": "scripted", "object": "chat.completion.chunk", "created": int(time.time()), "model": "x",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None if piece else "stop"}]}
            data = f"data: {json.dumps(chunk)}\n\n".encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        done = b"data: [DONE]\n\n"
        h.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
        h.wfile.flush()
        self._record(Call("reply (scripted)", 0.0, 0))


def _kind(req: dict[str, Any]) -> str:
    fmt = req.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return str((fmt.get("json_schema") or {}).get("name") or "json_schema")
    if fmt.get("type") == "json_object":
        return "json_object"
    system = "\n".join(m.get("content") or "" for m in req.get("messages") or [] if m.get("role") == "system")
    return "reply" if "## What to do now" in system else "text"


def _about(req: dict[str, Any]) -> str:
    last = (req.get("messages") or [{}])[-1].get("content") or ""
    found = SITUATION.search(last if isinstance(last, str) else "")
    return found.group(1).strip()[:120] if found else ""


def _answer(raw: bytes, req: dict[str, Any]) -> str:
    if req.get("stream"):
        return ""
    try:
        return str(json.loads(raw.decode("utf-8", "replace"))["choices"][0]["message"]["content"])[:400]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _output_tokens(raw: bytes, req: dict[str, Any]) -> int:
    text = raw.decode("utf-8", "replace")
    if not req.get("stream"):
        try:
            return int((json.loads(text).get("usage") or {}).get("completion_tokens") or 0)
        except (ValueError, AttributeError):
            return 0
    tokens = 0
    for line in text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            try:
                chunk = json.loads(line[6:])
            except ValueError:
                continue
            usage = chunk.get("usage") or {}
            if usage.get("completion_tokens"):
                return int(usage["completion_tokens"])
            tokens += sum(1 for c in chunk.get("choices") or [] if (c.get("delta") or {}).get("content"))
    return tokens
