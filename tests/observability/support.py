"""Scraping ``/metrics`` in tests: the exposition parsed by prometheus-client's own parser."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass
class Scrape:
    samples: list[tuple[str, dict[str, str], float]]

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples called ``name`` whose labels include ``labels``."""
        return sum(v for n, ls, v in self.samples if n == name and all(ls.get(k) == w for k, w in labels.items()))

    def labels_of(self, name: str) -> list[dict[str, str]]:
        return [ls for n, ls, _ in self.samples if n == name]


async def scrape(client: httpx.AsyncClient) -> Scrape:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = [(s.name, dict(s.labels), s.value) for fam in text_string_to_metric_families(response.text)
               for s in fam.samples]
    return Scrape(samples)


class OtlpReceiver:
    """A loopback OTLP/HTTP trace endpoint (``POST /v1/traces``, protobuf) that keeps every exported span."""

    def __init__(self) -> None:
        import http.server
        import threading

        receiver = self
        self.spans: list = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                    ExportTraceServiceRequest,
                    ExportTraceServiceResponse,
                )

                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    service = {a.key: a.value.string_value for a in resource.resource.attributes}.get("service.name")
                    for scope in resource.scope_spans:
                        receiver.spans.extend((service, span) for span in scope.spans)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _switch_class():
    from opentelemetry.sdk.trace import SpanProcessor

    class _Switch(SpanProcessor):
        """A span processor that exports to memory only while a test records (the global provider stays for the rest
        of the session once installed: OpenTelemetry allows one per process)."""

        def __init__(self, exporter) -> None:  # noqa: ANN001
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor

            self.inner = SimpleSpanProcessor(exporter)
            self.on = False

        def on_start(self, span, parent_context=None) -> None:  # noqa: ANN001
            pass

        def on_end(self, span) -> None:  # noqa: ANN001
            if self.on:
                self.inner.on_end(span)

        def shutdown(self) -> None:
            self.inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    return _Switch


_RECORDER: dict = {}


def span_recorder():
    """(exporter, switch): the process's in-memory span exporter behind a real SDK tracer provider."""
    if not _RECORDER:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        switch = _switch_class()(exporter)
        provider = TracerProvider()
        provider.add_span_processor(switch)
        trace.set_tracer_provider(provider)
        assert trace.get_tracer_provider() is provider, "another tracer provider was installed first"
        _RECORDER.update(exporter=exporter, switch=switch)
    return _RECORDER["exporter"], _RECORDER["switch"]
