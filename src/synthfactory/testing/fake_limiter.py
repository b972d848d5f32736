"""The fake server's real rate limiter: a token bucket on ``time.monotonic``.

A request that finds no token is told when the next one comes (``Retry-After`` in seconds
with up to 3 decimals, and ``retry-after-ms``); answers carry the
``x-ratelimit-{limit,remaining,reset}-requests`` headers an OpenAI endpoint sends.
"""

from __future__ import annotations

import math
import time
from typing import Final


def format_ms(milliseconds: int) -> str:
    """Format whole milliseconds as seconds with up to 3 decimals: 50 -> "0.05", 2000 -> "2"."""
    return f"{milliseconds / 1000:.3f}".rstrip("0").rstrip(".")


def format_seconds(seconds: float) -> str:
    """Format a delay for ``Retry-After`` without exponent notation: 0.05 -> "0.05", 2.0 -> "2"."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".") or "0"


class TokenBucket:
    """The rate limiter's token bucket; callers hold the endpoint's lock.

    The knobs are passed on every call, so a live change takes effect at once: new values
    start over with a full bucket.
    """

    # Float slack, so that a client that waited exactly Retry-After finds its token.
    _SLACK: Final = 1e-9

    def __init__(self) -> None:
        self._rps = 0.0
        self._burst = 0
        self._tokens = 0.0
        self._stamp = 0.0

    def _refill(self, rps: float, burst: int) -> None:
        now = time.monotonic()
        if rps != self._rps or burst != self._burst:
            self._rps, self._burst, self._tokens = rps, burst, float(burst)
        else:
            self._tokens = min(float(burst), self._tokens + (now - self._stamp) * rps)
        self._stamp = now

    def take(self, rps: float, burst: int) -> int:
        """Take a token and return 0, or return the milliseconds until the next token (>= 1)."""
        self._refill(rps, burst)
        if self._tokens >= 1.0 - self._SLACK:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0
        return max(1, math.ceil((1.0 - self._tokens) / rps * 1000))

    def headers(self, rps: float, burst: int) -> dict[str, str]:
        """The ``x-ratelimit-*-requests`` headers for the bucket as it is now."""
        self._refill(rps, burst)
        to_full_ms = math.ceil(max(0.0, burst - self._tokens) / rps * 1000)
        return {
            "x-ratelimit-limit-requests": str(burst),
            "x-ratelimit-remaining-requests": str(math.floor(self._tokens + self._SLACK)),
            "x-ratelimit-reset-requests": f"{format_ms(to_full_ms)}s",
        }


__all__ = ["TokenBucket", "format_ms", "format_seconds"]
