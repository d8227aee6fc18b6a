"""The log filters: context ids (and trace ids inside a span) on every record, secret-looking query values masked
in uvicorn's access lines, and the JSON formatter's shape."""

from __future__ import annotations

import json
import logging

from tertulia.observability import context
from tertulia.observability.logs import AccessLogRedaction, ContextFilter, json_formatter


def record(msg: str = "hello %s", args: tuple = ("world",), name: str = "tertulia.test") -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)


def test_access_lines_mask_signatures_and_tokens():
    rec = record('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", "/blobs/org/a.wav?expires=99&signature=s3cr3t"
                                                  "&access_token=tok&page=2", "1.1", 200), "uvicorn.access")
    AccessLogRedaction().filter(rec)
    line = rec.getMessage()
    assert "s3cr3t" not in line and "tok&" not in line
    assert "expires=99&signature=***&access_token=***&page=2" in line


def test_ids_and_json_shape():
    rec = record()
    with context.bound(request_id="r1", org_id="o1", conversation_id=None, interaction_id="i1"):
        ContextFilter().filter(rec)
    assert rec.context_suffix == " [request_id=r1 org_id=o1 interaction_id=i1]"
    body = json.loads(json_formatter().format(rec))
    assert body["message"] == "hello world" and body["level"] == "INFO" and body["logger"] == "tertulia.test"
    assert body["request_id"] == "r1" and body["interaction_id"] == "i1" and "conversation_id" not in body
    assert "context_suffix" not in body and "args" not in body
    plain = record()
    ContextFilter().filter(plain)  # outside any request: no ids, no suffix
    assert plain.context_suffix == "" and not hasattr(plain, "request_id")
