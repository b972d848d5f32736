"""Mixes a recipe's canaries into its verifier tiers while the run works, and keeps score.

The driver asks :meth:`CanaryRunner.pick` after an item's verifier step: with the recipe's
``rate`` (a draw from the item's own seed, so a replayed run mixes in the same canaries) it
gets a canary for that step, runs the step on it exactly as on an item, and hands the
verdict to :meth:`CanaryRunner.record`. Known-bad canaries are the recipe's declared ones
and mutants of items this run accepted (see :mod:`synthfactory.verify.canaries`).
"""

from __future__ import annotations

import copy
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synthfactory.ledger import Ledger
from synthfactory.recipe.steps import Payload
from synthfactory.seeds import derive_seed
from synthfactory.verify.canaries import Canaries, CanaryCheck, TierQuality, tier_quality

#: Accepted payloads kept as mutation sources (the most recent ones).
_POOL_SIZE = 64


@dataclass(frozen=True)
class CanaryPick:
    """A canary chosen for one step: its id, payload, seed and what it is."""

    canary_id: str
    payload: Payload
    seed: int
    bad: bool
    source: str
    label: str


class CanaryRunner:
    """Chooses canaries and keeps their verdicts for one run."""

    def __init__(self, canaries: Canaries, ledger: Ledger, run_id: str) -> None:
        self.canaries = canaries
        self.ledger = ledger
        self.run_id = run_id
        self._checks: list[CanaryCheck] = ledger.canary_checks(run_id)
        self._pool: deque[Payload] = deque(maxlen=_POOL_SIZE)

    def learn(self, payload: Mapping[str, Any]) -> None:
        """An item was accepted: its payload may seed mutants."""
        if self.canaries.mutators:
            self._pool.append(copy.deepcopy(dict(payload)))

    def restore(self, payloads: list[dict[str, Any]]) -> None:
        """On resume: the run's accepted payloads so far."""
        for payload in payloads[-_POOL_SIZE:]:
            self.learn(payload)

    def pick(self, item_id: str, item_seed: int, step: str, tier: str) -> CanaryPick | None:
        """A canary to run through ``step`` alongside item ``item_id``, or None."""
        if not self.canaries.measures(tier):
            return None
        if derive_seed(item_seed, "canary", step) / 2**63 >= self.canaries.rate:
            return None
        rng = random.Random(derive_seed(item_seed, "canary-pick", step))
        canary_id = f"{item_id}-canary-{step}"
        seed = derive_seed(item_seed, "canary-seed", step)
        good = [c for c in self.canaries.items if not c.bad and c.targets(tier)]
        if good and rng.random() < self.canaries.good_share:
            chosen = rng.choice(good)
            return CanaryPick(
                canary_id, dict(chosen.payload), seed, False, "declared", chosen.label
            )
        declared = [c for c in self.canaries.items if c.bad and c.targets(tier)]
        mutants_possible = bool(self.canaries.mutators and self._pool)
        # Declared and mutant canaries share the bad draws in proportion to what exists.
        if mutants_possible and (not declared or rng.random() < 0.5):
            made = self._mutant(rng)
            if made is not None:
                payload, label = made
                return CanaryPick(canary_id, payload, seed, True, "mutant", label)
        if declared:
            chosen = rng.choice(declared)
            return CanaryPick(canary_id, dict(chosen.payload), seed, True, "declared", chosen.label)
        return None

    def _mutant(self, rng: random.Random) -> tuple[Payload, str] | None:
        pool = list(self._pool)
        mutators = list(self.canaries.mutators)
        rng.shuffle(mutators)
        for mutate in mutators:
            for _ in range(4):
                original, donor = rng.choice(pool), rng.choice(pool)
                made = mutate(copy.deepcopy(original), donor, rng)
                if made is not None:
                    name = getattr(mutate, "__qualname__", None) or repr(mutate)
                    return made, f"mutant: {name}"
        return None

    def record(
        self, pick: CanaryPick, item_id: str, step: str, tier: str, *, status: str, reason: str
    ) -> CanaryCheck:
        """Keep one canary verdict (in the ledger too)."""
        check = CanaryCheck(
            canary_id=pick.canary_id,
            run_id=self.run_id,
            item_id=item_id,
            step=step,
            tier=tier,
            bad=pick.bad,
            source=pick.source,
            label=pick.label,
            status=status,
            reason=reason[:500],
        )
        self._checks = [c for c in self._checks if c.canary_id != check.canary_id]
        self._checks.append(check)
        self.ledger.add_canary_check(check)
        return check

    def quality(self) -> dict[str, TierQuality]:
        """Each measured tier's catch and false-reject rates so far."""
        return tier_quality(self._checks, self.canaries)

    def below_floor(self, tier: str) -> TierQuality | None:
        """The tier's quality if it is now below its floor."""
        found = self.quality().get(tier)
        return found if found is not None and found.below_floor else None


__all__ = ["CanaryPick", "CanaryRunner"]
