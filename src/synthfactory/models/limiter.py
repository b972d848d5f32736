"""Adaptive concurrency for one endpoint: additive increase, multiplicative decrease.

Every success raises the limit by ``1/limit`` (about +1 per round trip of the whole
window); an overload signal (429/503) halves it, at most once per ``decrease_interval_s``
so that one burst of rejections does not collapse the window to 1. A ``Retry-After`` or an
exhausted ``x-ratelimit-remaining-*`` closes the gate for everyone until the given time:
no request is sent straight into a known rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque


class AdaptiveLimiter:
    """An AIMD concurrency limit with a shared cool-down gate. One per endpoint per event loop."""

    def __init__(
        self,
        max_limit: int,
        *,
        min_limit: int = 1,
        decrease_factor: float = 0.5,
        decrease_interval_s: float = 0.25,
    ) -> None:
        if not 1 <= min_limit <= max_limit:
            raise ValueError("need 1 <= min_limit <= max_limit")
        self.max_limit = max_limit
        self.min_limit = min_limit
        self._limit = float(max_limit)
        self._decrease_factor = decrease_factor
        self._decrease_interval_s = decrease_interval_s
        self._last_decrease = -float("inf")
        self._in_flight = 0
        self._gate_until = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._gate_timer: asyncio.TimerHandle | None = None

    @property
    def limit(self) -> int:
        """The current number of requests allowed in flight."""
        return max(self.min_limit, int(self._limit))

    @property
    def in_flight(self) -> int:
        """Requests currently holding a slot."""
        return self._in_flight

    def _can_go(self) -> bool:
        return self._in_flight < self.limit and time.monotonic() >= self._gate_until

    async def acquire(self) -> None:
        """Wait for a slot; FIFO among waiters."""
        if not self._waiters and self._can_go():
            self._in_flight += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # We were handed a slot just as we were cancelled: give it back.
                self._in_flight -= 1
                self._wake()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            raise

    def release(self) -> None:
        """Give a slot back."""
        self._in_flight -= 1
        self._wake()

    def on_success(self) -> None:
        """Additive increase."""
        if self._limit < self.max_limit:
            self._limit = min(float(self.max_limit), self._limit + 1.0 / self._limit)

    def on_overload(self, retry_after_s: float | None = None) -> None:
        """Multiplicative decrease, and close the gate for ``retry_after_s`` if given."""
        now = time.monotonic()
        if now - self._last_decrease >= self._decrease_interval_s:
            self._limit = max(float(self.min_limit), self._limit * self._decrease_factor)
            self._last_decrease = now
        if retry_after_s:
            self.pause_until(now + retry_after_s)

    def pause_until(self, until_monotonic: float) -> None:
        """Close the gate until the given ``time.monotonic()`` value."""
        if until_monotonic <= self._gate_until:
            return
        self._gate_until = until_monotonic
        loop = asyncio.get_running_loop()
        if self._gate_timer is not None:
            self._gate_timer.cancel()
        self._gate_timer = loop.call_at(
            loop.time() + max(0.0, until_monotonic - time.monotonic()), self._wake
        )

    def _wake(self) -> None:
        while self._waiters and self._can_go():
            fut = self._waiters.popleft()
            if fut.done():
                continue
            self._in_flight += 1
            fut.set_result(None)
