"""A saved run's answers served back in order, as an OpenAI-compatible server: the run replays without the model, so
its decision requests can be dumped again for ``evals/probe.py`` (a dump lives in /tmp and is lost with the machine;
the results file keeps every answer) and a prompt change that should not move a decision can be checked for that in
minutes instead of a model's half hour.

    python evals/replay.py evals/results/qwen-s10-greeting.json --port 18690 &
    python evals/run.py --llm http://127.0.0.1:18690/v1 --model replay --only clinic,intake,orders,pharmacy,support_desk \\
        --label replay-check --dump /tmp/base.jsonl

The run must play the same graphs in the same order with the same prompts up to each answer (the replayed run's
turns then end where the saved run's did: ``run.py``'s report says so). Every non-streamed chat completion takes the
next saved answer that is not a scripted reply; a request arriving after the last one is answered 409.

With ``--cache DUMP --upstream URL`` it is a cache instead: a request found in a dump (the same messages, schema and
settings) gets the dumped answer, any other goes to the model and its answer is added to the dump. Decisions are
greedy on these servers (temperature 0 repeats, ``benchmarks/README.md``), so a full run of a change that touches a
few prompts (decision states only, say) costs the model only those:

    python evals/replay.py --cache /tmp/base.jsonl --upstream http://127.0.0.1:18601 --port 18690 &
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def answers(results: dict) -> list[str]:
    return [c["answer"] for t in results["turns"] for c in t["calls"] if c["kind"] != "reply (scripted)"]


def key(request: dict) -> str:
    return json.dumps(request, sort_keys=True)


class Cache:
    """Dumped (request, answer) pairs; a miss asks ``upstream`` and is appended to the dump."""

    def __init__(self, dump: Path, upstream: str) -> None:
        self.dump, self.upstream = dump, upstream.rstrip("/").removesuffix("/v1")
        lines = dump.read_text().splitlines() if dump.exists() else []
        # an entry keeps the whole response when it has one (token log-probabilities ride in it); a request asking
        # for log-probabilities is never answered from an entry without them
        self.known = {key(d["request"]): d.get("response") or d["answer"] for d in map(json.loads, filter(None, lines))
                      if d.get("response") or not d["request"].get("logprobs")}
        self.hits = self.misses = 0

    def answer(self, body: bytes, lock: threading.Lock) -> str | dict:
        """The dumped answer (a string) or whole response (a dict) for this request, asking upstream on a miss."""
        request = json.loads(body)
        with lock:
            found = self.known.get(key(request))
            self.hits += found is not None
        if found is not None:
            return found
        up = urllib.request.Request(self.upstream + "/v1/chat/completions", data=body,
                                    headers={"Content-Type": "application/json"})
        response = json.loads(urllib.request.urlopen(up, timeout=1800).read())
        answer = response["choices"][0]["message"]["content"]
        with lock, open(self.dump, "a") as f:
            self.misses += 1
            self.known[key(request)] = response
            f.write(json.dumps({"kind": "cached", "answer": answer, "request": request, "response": response}) + "\n")
        return response


def serve(saved: list[str] | Cache, port: int) -> ThreadingHTTPServer:
    lock = threading.Lock()
    queue = iter(saved if isinstance(saved, list) else [])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if isinstance(saved, Cache):
                found = saved.answer(raw, lock)
                if isinstance(found, dict):
                    self._send(200, found)
                    return
                answer: str | None = found
            else:
                with lock:
                    answer = next(queue, None)
            status = 200 if answer is not None else 409
            body = {"id": "replay", "object": "chat.completion", "created": int(time.time()), "model": "replay",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer or ""}}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}
            if answer is None:
                body = {"error": {"message": "the saved run has no answer left"}}
            self._send(status, body)

        def _send(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", help="evals/results/<label>.json: its answers in order")
    parser.add_argument("--cache", help="a --dump file: answers by request, misses asked upstream and added")
    parser.add_argument("--upstream", default="http://127.0.0.1:18601", help="the model, for --cache's misses")
    parser.add_argument("--port", type=int, default=18690)
    args = parser.parse_args()
    if bool(args.results) == bool(args.cache):
        parser.error("give a results file or --cache, one of them")
    saved = Cache(Path(args.cache), args.upstream) if args.cache else answers(json.loads(Path(args.results).read_text()))
    server = serve(saved, args.port)
    what = f"{len(saved.known)} cached answers" if isinstance(saved, Cache) else f"{len(saved)} answers in order"
    print(f"replaying {what} on http://127.0.0.1:{args.port}/v1", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
