"""``tertulia serve --workers 2``: the two API processes share their counters (``PROMETHEUS_MULTIPROC_DIR``, set
and emptied under the data dir), so every scrape, whichever process answers it, reports the sum over both."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.serve_process import serve_process


def _count(text: str, org: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "tertulia_http_responses_total" and s.labels.get("operation") == "get-agents" \
                    and s.labels.get("status") == "401":
                total += s.value
    return total


def test_two_workers_report_the_same_totals(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mp-metrics")
    with serve_process(tmp, workers=2, worker=False, bootstrap=False) as server:
        org = "org" + "0" * 9
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            for _ in range(40):  # unauthenticated: answered 401 by whichever process accepts the connection
                with httpx.Client(base_url=server.base_url, timeout=30) as fresh:  # a new connection each time
                    assert fresh.get(f"/v1/{org}/organization/agent").status_code == 401
            counts = []
            for _ in range(8):
                with httpx.Client(base_url=server.base_url, timeout=30) as fresh:
                    r = fresh.get("/metrics")
                    assert r.status_code == 200
                    counts.append(_count(r.text, org))
            assert http.get("/healthz").status_code == 200
        files = list((tmp / "data" / "prometheus-multiproc").glob("*.db"))
        pids = {f.stem.rsplit("_", 1)[-1] for f in files}
    assert counts == [40.0] * 8, counts
    assert len(pids) >= 2, files  # both API processes wrote their share
