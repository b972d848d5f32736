"""The running counts a driver keeps for progress (the ledger holds the durable truth)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthfactory.ledger import Ledger


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

    def restore(self, ledger: Ledger, run_id: str) -> None:
        """Load the run's counts so far from the ledger, in place (the model calls and the
        journal hold this tally)."""
        counts = ledger.counts(run_id)
        usage = ledger.usage(run_id)
        loaded = Tally(
            passed=counts["passed"],
            stored=counts["stored"],
            rejected=counts["rejected"],
            failed=counts["failed"],
            model_calls=int(usage["model_calls"]),
            cache_hits=int(usage["cache_hits"]),
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            token_cost=float(usage["token_cost"]),
        )
        for name, value in dataclasses.asdict(loaded).items():
            setattr(self, name, value)


__all__ = ["Tally"]
