"""Wilson intervals: known values, edge cases, and coverage by simulation."""

from __future__ import annotations

import random

import pytest

from synthfactory.verify.stats import Rate, wilson


def test_known_values() -> None:
    # 17 of 80 (the measurement): 14% to 31%.
    low, high = wilson(17, 80)
    assert round(low, 3) == 0.137 and round(high, 3) == 0.314
    low, high = wilson(0, 10)
    assert low == 0.0 and round(high, 3) == 0.278
    assert wilson(0, 0) == (0.0, 1.0)


def test_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_coverage_near_nominal() -> None:
    rng = random.Random(7)
    for p, n in ((0.05, 60), (0.2, 80), (0.5, 30)):
        covered = 0
        for _ in range(2000):
            k = sum(rng.random() < p for _ in range(n))
            low, high = wilson(k, n)
            covered += low <= p <= high
        assert covered / 2000 > 0.92, (p, n, covered)


def test_rate_text() -> None:
    assert str(Rate(1, 4)).startswith("25% (1/4, 95% CI ")
    assert Rate(0, 0).value is None
