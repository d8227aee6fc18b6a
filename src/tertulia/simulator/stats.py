"""Success criteria and reliability figures.

* A criterion holds when the judged value satisfies it: boolean ``value == expected_value``, numerical
  ``value <verb> threshold``, categorical ``value in expected_values``. A ``null`` value (the judge found the metric
  not applicable) does not satisfy any criterion.
* Per unit test with ``n`` repetitions of which ``c`` passed: pass rate ``c / n``; pass^k, the chance that ``k``
  independent runs all pass, estimated without bias as ``C(c, k) / C(n, k)`` (k <= n); the 95% Wilson score
  interval of the pass rate; and a flakiness score ``1 - |2p - 1|`` (1 when half the runs pass, 0 when all or
  none do) to list the flakiest tests first.
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass
from typing import Any

VERBS = {"==": operator.eq, "!=": operator.ne, "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
Z95 = 1.959963984540054


def criterion_holds(criterion: dict[str, Any], value: Any) -> bool:
    kind = criterion.get("type")
    if value is None:
        return False
    if kind == "boolean":
        return isinstance(value, bool) and value == bool(criterion["expected_value"])
    if kind == "numerical":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return VERBS[criterion["verb"]](float(value), float(criterion["threshold"]))
    if kind == "categorical":
        return isinstance(value, str) and value in (criterion.get("expected_values") or [])
    return False


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, round(centre - half, 12)), min(1.0, round(centre + half, 12))  # 10/10 -> exactly 1.0


def pass_hat_k(successes: int, n: int, k: int) -> float | None:
    if k <= 0 or k > n:
        return None
    return math.comb(successes, k) / math.comb(n, k)


@dataclass
class Reliability:
    unit_test_id: str
    name: str
    runs: int
    passed: int
    errored: int
    pass_rate: float
    k: int
    pass_hat_k: float | None
    ci95_low: float
    ci95_high: float
    flakiness: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def reliability(unit_test_id: str, name: str, outcomes: list[bool], errored: int = 0, k: int | None = None) -> Reliability:
    """``outcomes``: one pass/fail per finished repetition (errored and cancelled ones count as not passed)."""
    n, c = len(outcomes), sum(1 for o in outcomes if o)
    rate = c / n if n else 0.0
    low, high = wilson(c, n)
    k = k if k is not None else n
    return Reliability(unit_test_id, name, n, c, errored, rate, k, pass_hat_k(c, n, k), low, high,
                       1 - abs(2 * rate - 1) if n else 0.0)


def flakiest_first(rows: list[Reliability]) -> list[Reliability]:
    return sorted(rows, key=lambda r: (-r.flakiness, r.pass_rate, r.name))
