"""What ``tertulia simulate run`` prints and writes: the reliability table (flakiest first), JUnit XML (one test case
per simulated conversation) and the verdict against ``--min-pass``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from tertulia.simulation.models import CANCELLED, DONE, SimulationRunItem, SimulationUnitTestSetRun
from tertulia.simulator.stats import Reliability, flakiest_first


@dataclass
class Verdict:
    ok: bool
    below: list[Reliability]


def verdict(rows: list[Reliability], min_pass: float, cancelled: bool) -> Verdict:
    """Every unit test must pass at least ``min_pass`` of its repetitions (errored ones count as failed)."""
    below = [r for r in rows if r.runs == 0 or r.pass_rate < min_pass]
    return Verdict(ok=not below and not cancelled, below=below)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def table(rows: list[Reliability], min_pass: float) -> Table:
    out = Table(title="Simulation results (flakiest first)")
    for column in ("unit test", "runs", "passed", "errored", "pass rate", "pass^k", "95% CI", "flakiness", ""):
        out.add_column(column, justify="left" if column == "unit test" else "right")
    for r in flakiest_first(rows):
        mark = "[green]ok[/green]" if r.runs and r.pass_rate >= min_pass else "[red]below[/red]"
        out.add_row(r.name, str(r.runs), str(r.passed), str(r.errored), _percent(r.pass_rate),
                    f"{_percent(r.pass_hat_k)} (k={r.k})", f"{_percent(r.ci95_low)}-{_percent(r.ci95_high)}",
                    f"{r.flakiness:.2f}", mark)
    return out


def junit(path: Path, set_name: str, run: SimulationUnitTestSetRun, items: list[SimulationRunItem],
          rows: list[Reliability], elapsed: float) -> None:
    names = {spec["unit_test_id"]: spec.get("unit_test_name", spec["unit_test_id"]) for spec in run.unit_test_run_specs}
    failures = sum(1 for i in items if i.status == DONE and not i.error and not i.passed)
    errors = sum(1 for i in items if i.status == DONE and i.error)
    skipped = sum(1 for i in items if i.status == CANCELLED)
    suites = ET.Element("testsuites", name="tertulia simulations")
    suite = ET.SubElement(suites, "testsuite", name=set_name, tests=str(len(items)), failures=str(failures),
                          errors=str(errors), skipped=str(skipped), time=f"{elapsed:.3f}")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="simulation_unit_test_set_run_id", value=run.id)
    for r in rows:
        for key, value in (("pass_rate", r.pass_rate), ("pass_hat_k", r.pass_hat_k), ("ci95_low", r.ci95_low),
                           ("ci95_high", r.ci95_high)):
            ET.SubElement(properties, "property", name=f"{r.name}.{key}", value="" if value is None else f"{value:.4f}")
    for item in items:
        seconds = (item.finished_at - item.started_at).total_seconds() if item.finished_at and item.started_at else 0.0
        case = ET.SubElement(suite, "testcase", classname=names.get(item.unit_test_id, item.unit_test_id),
                             name=f"{names.get(item.unit_test_id)} #{item.run_index + 1}", time=f"{seconds:.3f}")
        detail = _detail(item)
        if item.status == CANCELLED:
            ET.SubElement(case, "skipped", message="Cancelled before completion.")
        elif item.error:
            ET.SubElement(case, "error", message=item.error[:500]).text = detail
        elif not item.passed:
            reason = item.failure or "A success criterion was not met."
            ET.SubElement(case, "failure", message=reason[:500]).text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    ET.indent(suites)
    path.write_bytes(ET.tostring(suites, encoding="utf-8", xml_declaration=True))


def _detail(item: SimulationRunItem) -> str:
    lines: list[Any] = [f"conversation_id: {item.conversation_id}", f"stop_reason: {item.stop_reason}",
                        f"interactions: {item.interactions}"]
    for r in item.metric_results or []:
        lines.append(f"{r['success_criterion_name']}: value={r['value']!r} passed={r['passed']} ({r.get('justification', '')})")
    return "\n".join(str(line) for line in lines)
