"""``tertulia serve --workers 2``: the two API processes share their counters (``PROMETHEUS_MULTIPROC_DIR``, set
and emptied under the data dir), so every scrape, whichever process answers it, reports the sum over both."""

from __future__ import annotations

import time

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
    shared = tmp / "data" / "prometheus-multiproc"
    with serve_process(tmp, workers=2, worker=False, bootstrap=False) as server:
        org = "org" + "0" * 9
        sent, deadline = 0, time.time() + 60
        # unauthenticated requests, each on a new connection, answered 401 by whichever process accepts it; until
        # both processes have answered some (each writes its own files), however the kernel spreads connections
        while sent < 20 or len(_pids(shared)) < 2:
            assert time.time() < deadline, f"only {_pids(shared)} answered {sent} requests"
            with httpx.Client(base_url=server.base_url, timeout=30) as fresh:
                assert fresh.get(f"/v1/{org}/organization/agent").status_code == 401
            sent += 1
        counts = []
        for _ in range(8):
            with httpx.Client(base_url=server.base_url, timeout=30) as fresh:
                r = fresh.get("/metrics")
                assert r.status_code == 200
                counts.append(_count(r.text, org))
    assert counts == [float(sent)] * 8, (sent, counts)


def _pids(folder) -> set[str]:  # noqa: ANN001
    return {f.stem.rsplit("_", 1)[-1] for f in folder.glob("counter_*.db")}
