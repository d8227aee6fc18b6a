"""Success criteria and the reliability figures (pure functions): every verb and type, pass^k, the Wilson interval,
flakiest first, and which model the simulated user runs on."""

from __future__ import annotations

import pytest

from tertulia.simulator.simulated_user import user_model_name
from tertulia.simulator.stats import criterion_holds, flakiest_first, pass_hat_k, reliability, wilson


@pytest.mark.parametrize(("criterion", "value", "holds"), [
    ({"type": "boolean", "expected_value": True}, True, True),
    ({"type": "boolean", "expected_value": True}, False, False),
    ({"type": "boolean", "expected_value": False}, None, False),  # not applicable never satisfies
    ({"type": "numerical", "verb": ">=", "threshold": 7}, 7, True),
    ({"type": "numerical", "verb": ">", "threshold": 7}, 7, False),
    ({"type": "numerical", "verb": "<", "threshold": 7}, 6.5, True),
    ({"type": "numerical", "verb": "<=", "threshold": 7}, 7.5, False),
    ({"type": "numerical", "verb": "==", "threshold": 3}, 3.0, True),
    ({"type": "numerical", "verb": "!=", "threshold": 3}, 3, False),
    ({"type": "numerical", "verb": ">=", "threshold": 0}, True, False),  # a boolean is not a number here
    ({"type": "categorical", "expected_values": ["low", "medium"]}, "low", True),
    ({"type": "categorical", "expected_values": ["low", "medium"]}, "high", False),
])
def test_criteria(criterion, value, holds):
    assert criterion_holds(criterion, value) is holds


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson(1, 2)
    assert round(low, 4) == 0.0945 and round(high, 4) == 0.9055
    low, high = wilson(10, 10)
    assert round(low, 4) == 0.7225 and high == 1.0
    assert wilson(0, 0) == (0.0, 1.0)


def test_pass_hat_k_is_the_unbiased_all_k_pass_estimate():
    assert pass_hat_k(5, 5, 5) == 1.0
    assert pass_hat_k(4, 5, 5) == 0.0
    assert pass_hat_k(4, 5, 2) == pytest.approx(6 / 10)  # C(4,2) / C(5,2)
    assert pass_hat_k(3, 5, 6) is None  # k beyond the runs made


def test_flakiest_first():
    steady = reliability("a", "always", [True] * 4)
    coin = reliability("b", "coin", [True, False, True, False])
    mostly = reliability("c", "mostly", [True, True, True, False])
    broken = reliability("d", "broken", [False] * 4)
    assert [r.name for r in flakiest_first([steady, broken, mostly, coin])] == ["coin", "mostly", "broken", "always"]
    assert coin.flakiness == 1.0 and steady.flakiness == 0.0 and mostly.pass_hat_k == 0.0


def test_simulated_user_model_precedence():
    prefs = {"SimulateUser": {"llm_name": "openai_gpt-5", "params": {"temperature": 0.7}}}
    assert user_model_name(prefs, "configured") == ("openai_gpt-5", {"temperature": 0.7})
    assert user_model_name({}, "configured") == ("configured", {})
    assert user_model_name({}, None) == (None, {})
