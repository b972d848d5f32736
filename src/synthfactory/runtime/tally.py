"""The running counts a driver keeps for progress (the ledger holds the durable truth)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Tally:
    """Items by outcome and model usage, since the run began (restored on resume)."""

    passed: int = 0
    stored: int = 0
    rejected: int = 0
    failed: int = 0
    model_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    token_cost: float = 0.0


__all__ = ["Tally"]
