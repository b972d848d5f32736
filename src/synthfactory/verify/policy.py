"""Which verifier tiers run on which items."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synthfactory.errors import RecipeError
from synthfactory.seeds import derive_seed


@dataclass(frozen=True)
class VerificationPolicy:
    """Which verifier tiers run on which items.

    Tiers in ``sampled_tiers`` (by default the sandbox tier) run on every item whose
    ``critical_field`` is truthy, on a seeded, reproducible ``sample_rate`` fraction of the
    rest, and on any item a cheaper tier marked uncertain (escalation). Every other tier runs
    on every item that reaches it. The first failing tier stops the item.
    """

    sample_rate: float = 1.0
    sampled_tiers: tuple[str, ...] = ("sandbox",)
    critical_field: str = "critical"

    def __post_init__(self) -> None:
        if not 0.0 <= self.sample_rate <= 1.0:
            raise RecipeError(f"sample_rate must be in [0, 1], got {self.sample_rate}")

    def should_run(
        self, tier: str, payload: Mapping[str, Any], item_seed: int, step: str, escalated: bool
    ) -> tuple[bool, str]:
        """Whether a step of ``tier`` runs on this item, and why."""
        if tier not in self.sampled_tiers:
            return True, "every item"
        if payload.get(self.critical_field):
            return True, "critical item"
        if escalated:
            return True, "escalated: an earlier tier was uncertain"
        draw = derive_seed(item_seed, "sample", step) / 2**63
        if draw < self.sample_rate:
            return True, f"sampled ({self.sample_rate:.0%})"
        return False, f"not sampled ({self.sample_rate:.0%})"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {
            "sample_rate": self.sample_rate,
            "sampled_tiers": list(self.sampled_tiers),
            "critical_field": self.critical_field,
        }


__all__ = ["VerificationPolicy"]
