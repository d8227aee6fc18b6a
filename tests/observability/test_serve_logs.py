"""A real ``tertulia serve`` with ``TERTULIA_LOG_FORMAT=json`` and tracing on through the standard OTLP variables:
every log line is a JSON object, the start-up summary says what runs, the request lines carry the request,
organization, conversation and trace ids, the spans reach the OTLP endpoint, and neither a credential nor a word of
any message appears in the log."""

from __future__ import annotations

import json
import time

import httpx

from tests.observability.support import OtlpReceiver
from tests.support.serve_process import JWT_SECRET, serve_process

USER_TEXT = "My confidential worry is about the zebra-striped umbrella"


def test_json_logs_with_ids_and_otlp_traces(tmp_path_factory):
    collector = OtlpReceiver()
    try:
        with serve_process(tmp_path_factory.mktemp("json-logs"), TERTULIA_LOG_FORMAT="json",
                           OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, OTEL_SERVICE_NAME="tertulia-under-test",
                           OTEL_BSP_SCHEDULE_DELAY="200", TERTULIA_LLM_API_KEY="sk-test-llm-key-never-logged-000",
                           ) as server:
            creds = server.credentials
            org = creds.organization_id
            with httpx.Client(base_url=server.base_url, timeout=60) as http:
                r = http.post(f"/v1/{org}/user/signin_with_api_key", headers={
                    "x-api-key": creds.api_key, "x-api-key-id": creds.api_key_id, "x-user-id": creds.user_id})
                assert r.status_code == 200, r.text
                token = r.json()["id_token"]
                bearer = {"Authorization": f"Bearer {token}", "X-Request-ID": "req-observability-1"}
                r = http.post(f"/v1/{org}/conversation/?response_format=text", headers=bearer,
                              json={"service_id": creds.service_id})
                assert r.status_code == 201, r.text
                assert r.headers["x-request-id"] == "req-observability-1"
                conversation_id = json.loads(r.text.splitlines()[0])["conversation_id"]
                files = [("initial_message_type", (None, "user-message")),
                         ("recorded_message", ("m.txt", USER_TEXT.encode(), "text/plain; charset=utf-8"))]
                r = http.post(f"/v1/{org}/conversation/{conversation_id}/interact"
                              "?request_format=text&response_format=text", headers=bearer, files=files)
                assert r.status_code == 200 and '"interaction-complete"' in r.text, r.text
                reply = json.loads([ln for ln in r.text.splitlines() if "interaction-complete" in ln][0])["full_message"]
            deadline = time.time() + 10
            while time.time() < deadline and not any("interact" in s.name for _, s in collector.spans):
                time.sleep(0.2)
            server.stop()
            logs = server.logs()
    finally:
        collector.close()

    records = []
    for line in logs.splitlines():
        if line.strip().startswith("{"):
            records.append(json.loads(line))
    assert len(records) >= 5, logs[-3000:]
    assert all({"timestamp", "level", "logger", "message"} <= set(r) for r in records)

    [summary] = [r for r in records if r["logger"] == "tertulia.startup"]
    startup = summary["startup"]
    assert startup["llm"] == "fake (scripted)" and startup["worker"] == "on" and startup["rate_limits"] == "off"
    assert startup["database"].startswith("sqlite /") and startup["tracing"] == "on (OTLP)"
    assert {"embedder", "speech_to_text", "text_to_speech", "blob_store", "version"} <= set(startup)

    access = [r for r in records if r["logger"] == "uvicorn.access" and "/interact" in r["message"]]
    assert access, "no access line for the turn"
    line = access[0]
    assert line["request_id"] == "req-observability-1" and line["org_id"] == org
    assert line["conversation_id"] == conversation_id
    assert len(line["trace_id"]) == 32 and len(line["span_id"]) == 16

    turns = [r for r in records if r["logger"] == "tertulia.turns"]
    assert len(turns) == 2 and all(r["org_id"] == org and r["conversation_id"] == conversation_id for r in turns)
    assert all(len(r["interaction_id"]) == 24 and r["turn_outcome"] == "ok" for r in turns)
    assert turns[1]["request_id"] == "req-observability-1" and turns[1]["trace_id"] == line["trace_id"]

    exported = collector.spans
    assert {service for service, _ in exported} == {"tertulia-under-test"}
    trace_ids = {span.trace_id.hex() for _, span in exported}
    assert line["trace_id"] in trace_ids  # the log line leads to its trace
    names = {span.name for _, span in exported}
    assert any(name.startswith("POST /v1/{organization}/conversation/{conversation_id}/interact") for name in names), names
    assert any(name.startswith("chat ") for name in names), names  # GenAI spans of the LLM calls
    assert {"SELECT", "INSERT", "UPDATE"} <= {name.split(" ")[0] for name in names}, names  # database spans
    assert not any(name.endswith(("http send", "http receive")) for name in names)  # no per-chunk noise

    for secret in (creds.api_key, token, JWT_SECRET, "sk-test-llm-key-never-logged-000"):
        assert secret not in logs
    assert USER_TEXT not in logs and "zebra-striped" not in logs
    assert reply and reply not in logs
