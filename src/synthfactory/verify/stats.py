"""Rates with honest intervals: every measured rate of a verifier comes with its Wilson bounds.

The Wilson score interval keeps its coverage near the nominal level for small samples and
for rates near 0 or 1, where the textbook normal interval collapses to a point (0 of 10
defects is not "0%, certainly").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: The normal quantile for a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / trials``; ``(0.0, 1.0)`` with no trials."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n``, with its point estimate and Wilson 95% bounds."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        """k / n, or ``None`` with no trials."""
        return self.k / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float]:
        """The Wilson 95% interval."""
        return wilson(self.k, self.n)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: k, n, rate, low, high."""
        low, high = self.interval
        return {"k": self.k, "n": self.n, "rate": self.value, "low": low, "high": high}

    def __str__(self) -> str:
        if not self.n:
            return "- (0 measured)"
        low, high = self.interval
        return f"{self.value:.0%} ({self.k}/{self.n}, 95% CI {low:.0%}-{high:.0%})"


__all__ = ["Z95", "Rate", "wilson"]
