"""Decision-quality evaluation through tertulia's public API: a real ``tertulia serve`` process, the labelled graphs in
``evals/graphs/*.yaml`` (expected state after every user turn) and the dynamic-behavior cases in
``evals/behaviors.yaml`` (expected behavior or none), scored from each interaction's insights
(``current_state_name``, ``triggered_dynamic_behavior_set_version_info``).

    python evals/run.py --llm fake                                   # the scripted fake (first option, hashing embedder)
    python evals/run.py --llm http://127.0.0.1:18601/v1 --model qwen # any OpenAI-compatible server
    python evals/run.py ... --only clinic,behaviors --label qwen-after --env TERTULIA_DECISION_REASONING=brief

Every LLM call goes through a metering proxy (``evals/meter.py``): calls, output tokens and latency per decision kind.
Replies are scripted by that proxy unless ``--model-replies`` (see its docstring). Prints one line per turn as it
goes, then accuracy per graph and per decision kind, confusion pairs and behavior precision/recall; writes the
whole run to ``evals/results/<label>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import httpx  # noqa: E402
import yaml  # noqa: E402

from evals.api import Api  # noqa: E402
from evals.meter import Meter  # noqa: E402
from evals.report import report  # noqa: E402
from tests.engine.openai_stub import start_stub_process  # noqa: E402
from tests.support.serve_process import JWT_SECRET, ServeProcess, _wait_healthy, free_port, tertulia_command  # noqa: E402

HERE = Path(__file__).resolve().parent


def load_graphs() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted((HERE / "graphs").glob("*.yaml"))}


@contextmanager
def serve(tmp: Path, env: dict[str, str]) -> Iterator[ServeProcess]:
    """``tertulia serve --no-worker`` on a free port with its own SQLite database, rate limits off; bootstrapped."""
    tmp.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{tmp / 'serve.db'}"
    full = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")} | {
        "TERTULIA_DATABASE_URL": url, "TERTULIA_DATA_DIR": str(tmp / "data"), "TERTULIA_RATE_LIMITS_ENABLED": "false",
        "TERTULIA_JWT_SECRET": JWT_SECRET} | env
    port = free_port()
    log_path = tmp / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([*tertulia_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--no-bootstrap", "--no-worker"], env=full, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    server = ServeProcess(f"http://127.0.0.1:{port}", url, full, log_path, process)
    try:
        _wait_healthy(server, 300)
        server.credentials = server.bootstrap()
        yield server
    finally:
        server.stop()


def tools_file(graphs: dict[str, dict], meter_url: str, folder: Path) -> Path:
    tools = []
    for g in graphs.values():
        for t in g.get("tools") or []:
            tools.append({k: t[k] for k in ("tool_id", "name", "version", "description", "input_schema")}
                         | {"url": f"{meter_url}/tools/{t['name']}", "timeout_seconds": 30})
    path = folder / "tools.yaml"
    path.write_text(yaml.safe_dump({"tools": tools}))
    return path


def install(api: Api, graphs: dict[str, dict], behaviors: dict | None, wanted: set[str]) -> dict[str, str]:
    """Graphs (referenced ones first) and one service per graph that has conversations; returns service ids."""
    agent_id = api.agent("Eval agent")
    graph_ids: dict[str, str] = {}

    def ensure(name: str) -> None:
        if name in graph_ids:
            return
        for target in (graphs[name].get("references") or {}).values():
            ensure(target)
        graph_ids[name] = api.graph(f"eval-{name}", graphs[name]["graph"], graph_ids)

    services = {}
    for name in graphs:
        if graphs[name].get("conversations") and name in wanted:
            ensure(name)
            services[name] = api.service(f"eval-{name}", agent_id, graph_ids[name])
    if behaviors is not None:
        gid = api.graph("eval-behaviors", behaviors["graph"], graph_ids)
        services["behaviors"] = api.service("eval-behaviors", agent_id, gid)
    return services


def play_graphs(api: Api, meter: Meter, graphs: dict[str, dict], services: dict[str, str], rows: list[dict],
                save=lambda: None) -> None:
    total = sum(len(c["turns"]) for n, g in graphs.items() if n in services for c in g["conversations"])
    done = 0
    for name, g in graphs.items():
        if name not in services:
            continue
        for conv in g["conversations"]:
            cid, previous_ok, before = None, True, g["graph"]["new_user_initial_state"]
            for i, turn in enumerate(conv["turns"]):
                mark = meter.mark()
                result = api.turn(services[name], cid, turn["say"])
                cid = result.conversation_id or cid
                got = result.insights.get("current_state_name") if not result.error else f"ERROR"
                ok = got == turn["expect"]
                done += 1
                calls = [c.__dict__ for c in meter.since(mark)]
                rows.append({"graph": name, "conversation": conv["id"], "turn": i + 1, "say": turn["say"],
                             "kind": turn["kind"], "from": before, "expect": turn["expect"], "got": got, "ok": ok,
                             "from_expected_state": previous_ok, "ms": round(result.ms), "calls": calls,
                             "error": result.error})
                print(f"[{done:3d}/{total}] {name:12s} {conv['id']:18s} t{i + 1} {turn['kind']:11s} "
                      f"expect={turn['expect']:13s} got={got!s:13s} {'ok ' if ok else 'BAD'} "
                      f"{len(calls)} calls {result.ms / 1000:6.1f}s" + (f"  {result.error}" if result.error else ""),
                      flush=True)
                previous_ok, before = ok, got
                if result.error:
                    break
            api.finish(cid or "")
            save()


def play_behaviors(api: Api, meter: Meter, spec: dict, service_id: str, rows: list[dict], save=lambda: None) -> None:
    names = {}
    for b in spec["behaviors"]:
        names[api.behavior(f"eval-{b['name']}", b["triggers"], b["instruction"], service_id)] = b["name"]
    cases = spec["cases"]
    for i, case in enumerate(cases):
        mark = meter.mark()
        cid, stray = None, []
        for text in case.get("before") or []:
            pre = api.turn(service_id, cid, text)
            cid = pre.conversation_id or cid
            info = pre.insights.get("triggered_dynamic_behavior_set_version_info")
            if info:
                stray.append(names.get(info[0], info[0]))
        result = api.turn(service_id, cid, case["say"])
        info = result.insights.get("triggered_dynamic_behavior_set_version_info") if not result.error else None
        got = "ERROR" if result.error else (names.get(info[0], info[0]) if info else "none")
        ok = got == case["expect"]
        calls = [c.__dict__ for c in meter.since(mark)]
        rows.append({"say": case["say"], "tag": case["tag"], "expect": case["expect"], "got": got, "ok": ok,
                     "before_triggered": stray, "ms": round(result.ms), "calls": calls, "error": result.error})
        print(f"[{i + 1:3d}/{len(cases)}] behaviors {case['tag']:10s} expect={case['expect']:17s} got={got:17s} "
              f"{'ok ' if ok else 'BAD'} {len(calls)} calls {result.ms / 1000:6.1f}s  {case['say'][:50]}"
              + (f"  {result.error}" if result.error else ""), flush=True)
        api.finish(result.conversation_id or cid or "")
        save()


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # kill <pid>: the server and stub are still stopped
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default="fake", help="'fake' or an OpenAI-compatible base URL ending in /v1")
    parser.add_argument("--model", default="eval-model", help="model name sent to the server")
    parser.add_argument("--only", default="", help="comma-separated graph names and/or 'behaviors'")
    parser.add_argument("--label", default="", help="results file name (evals/results/<label>.json)")
    parser.add_argument("--model-replies", action="store_true", help="let the model write the replies too")
    parser.add_argument("--env", action="append", default=[], help="extra KEY=VALUE for the server (repeatable)")
    parser.add_argument("--src", default=str(ROOT / "src"),
                        help="the tertulia source tree the server runs (e.g. an export of an older commit: 'before')")
    parser.add_argument("--conversations", type=int, default=0, help="only the first N conversations of each graph")
    parser.add_argument("--conversation", default="",
                        help="comma-separated graph/conversation ids: only those conversations of their graphs "
                             "(re-playing the conversations a change can reach; the rest of the run is unchanged)")
    parser.add_argument("--cases", type=int, default=0, help="only the first N behavior cases")
    parser.add_argument("--dump", default="", help="append every decision request and its answer to this JSON-lines file")
    parser.add_argument("--stride", type=int, default=1, help="only every k-th behavior case (a spread-out sample)")
    args = parser.parse_args()

    graphs = load_graphs()
    if args.conversations:
        for g in graphs.values():
            g["conversations"] = g["conversations"][: args.conversations]
    if args.conversation:
        keep = {tuple(x.split("/", 1)) for x in args.conversation.split(",") if "/" in x}
        for name, g in graphs.items():
            if any(k[0] == name for k in keep):
                g["conversations"] = [c for c in g["conversations"] if (name, c["id"]) in keep]
    wanted = set(filter(None, args.only.split(","))) or set(graphs) | {"behaviors"}
    behaviors = yaml.safe_load((HERE / "behaviors.yaml").read_text()) if "behaviors" in wanted else None
    if behaviors is not None:
        behaviors["cases"] = behaviors["cases"][:: max(1, args.stride)][: args.cases or None]
    stub = None
    if args.llm == "fake":
        stub, upstream = start_stub_process()
    else:
        upstream = args.llm.rstrip("/").removesuffix("/v1")
    meter = Meter(upstream, scripted_replies=not args.model_replies,
                  tool_outputs={t["name"]: t["output"] for g in graphs.values() for t in g.get("tools") or []},
                  dump=args.dump)
    meter_url = meter.start()
    rows: list[dict] = []
    brows: list[dict] = []
    started = time.time()
    out = HERE / "results" / f"{args.label}.json"

    def run_dict() -> dict:
        return {"llm": args.llm, "model": args.model, "env": args.env, "src": args.src,
                "scripted_replies": not args.model_replies,
                "seconds": round(time.time() - started), "turns": rows, "behavior_cases": brows}

    def save() -> None:  # after every conversation: a long run interrupted keeps what it measured
        if args.label:
            out.parent.mkdir(exist_ok=True)
            out.write_text(json.dumps(run_dict(), indent=1))

    try:
        with tempfile.TemporaryDirectory(prefix="tertulia-eval-") as tmp:
            env = {
                "TERTULIA_LLM_PROVIDER": "openai", "TERTULIA_LLM_BASE_URL": f"{meter_url}/v1",
                "TERTULIA_LLM_MODEL": args.model, "TERTULIA_LLM_API_KEY": "unused",
                "TERTULIA_LLM_MODEL_MAP": json.dumps({"*": args.model}), "TERTULIA_LLM_TIMEOUT_SECONDS": "1800",
                "TERTULIA_TOOLS_FILE": str(tools_file(graphs, meter_url, Path(tmp))),
                "PYTHONPATH": args.src,
            }
            if args.llm == "fake":  # the stub's hashing embeddings = the fake provider's FakeEmbedder
                env |= {"TERTULIA_EMBEDDING_BASE_URL": f"{upstream}/v1", "TERTULIA_EMBEDDING_MODEL": "stub"}
            env |= dict(item.split("=", 1) for item in args.env)
            with serve(Path(tmp) / "serve", env) as server:
                c = server.credentials
                r = httpx.post(f"{server.base_url}/v1/{c.organization_id}/user/signin_with_api_key", timeout=60,
                               headers={"x-api-key": c.api_key, "x-api-key-id": c.api_key_id, "x-user-id": c.user_id})
                r.raise_for_status()
                api = Api(server.base_url, c.organization_id, {"Authorization": f"Bearer {r.json()['id_token']}"})
                services = install(api, graphs, behaviors, wanted)
                if behaviors is not None:  # behaviors first: they are the shorter set
                    play_behaviors(api, meter, behaviors, services["behaviors"], brows, save)
                play_graphs(api, meter, graphs, services, rows, save)
                api.close()
    finally:
        meter.stop()
        if stub is not None:
            stub.kill()
            stub.wait(10)
    print(report(run_dict()))
    if args.label:
        save()
        print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
