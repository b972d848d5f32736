"""Canaries: items whose right verdict is known, mixed into a verifier tier's stream.

Crowdsourcing keeps annotators honest with gold questions; a run keeps its verifiers honest
the same way. A known-bad canary must be rejected by the tier it targets (its **catch
rate**), a known-good one must pass (its **false-reject rate**). Both are rates with Wilson
95% intervals, measured while the run works, through exactly the code path real items
take, and no canary ever reaches the dataset.

Known-bad canaries come from two places:

- declared in the recipe (:class:`Canary`), e.g. the misreadings a model is known to make;
- **mutants** of items the run accepted: a :data:`Mutator` turns an accepted payload (and a
  donor, another accepted payload) into a broken one: for code, a changed operator, an
  off-by-one, another task's solution (:mod:`synthfactory.verify.mutants`).

A mutant can be *equivalent* (the change did not change behaviour), so a catch rate on
mutants is a lower bound of the true one; declared canaries have no such noise.

A tier with a ``floor`` is **below its floor** once it has seen ``min_count`` bad canaries
and the upper Wilson bound of its catch rate is under the floor: it is then very likely
worse than the floor, not just unlucky. A judge that says yes to everything catches
nothing and is flagged after ``min_count`` canaries.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from synthfactory.errors import RecipeError
from synthfactory.recipe.steps import Payload
from synthfactory.verify.stats import Rate

#: ``(accepted payload, donor payload, rng) -> broken payload`` (or None: no mutation
#: applies). The donor is another accepted item, for "another task's answer" mutants.
Mutator = Callable[[Payload, Payload, random.Random], "Payload | None"]


@dataclass(frozen=True)
class Canary:
    """One declared canary: a complete payload (what the tier's verifier reads), whether it
    is known bad (must be rejected) or known good (must pass), and which tiers it targets
    (``None``: every tier that has a floor or is measured)."""

    payload: Mapping[str, Any]
    bad: bool = True
    tiers: tuple[str, ...] | None = None
    label: str = ""

    def targets(self, tier: str) -> bool:
        """Whether this canary is meant for ``tier``."""
        return self.tiers is None or tier in self.tiers


@dataclass(frozen=True)
class Canaries:
    """A recipe's canaries and how they are used.

    ``rate``: the chance that an item reaching a measured tier brings a canary with it (so
    about ``rate`` canary checks per real check). ``good_share``: of those, the share of
    known-good canaries (when the tier has any). ``tiers``: the tiers measured (default:
    every verifier tier of the recipe). ``floors``: the minimum catch rate per tier;
    ``min_count`` bad canaries before a floor is judged.
    """

    items: tuple[Canary, ...] = ()
    mutators: tuple[Mutator, ...] = ()
    rate: float = 0.2
    good_share: float = 0.25
    tiers: tuple[str, ...] | None = None
    floors: Mapping[str, float] = field(default_factory=dict)
    min_count: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "mutators", tuple(self.mutators))
        if not 0.0 < self.rate <= 1.0:
            raise RecipeError(f"canaries: rate must be in (0, 1], got {self.rate}")
        if not 0.0 <= self.good_share < 1.0:
            raise RecipeError(f"canaries: good_share must be in [0, 1), got {self.good_share}")
        if self.min_count < 1:
            raise RecipeError("canaries: min_count must be >= 1")
        for tier, floor in self.floors.items():
            if not 0.0 <= floor <= 1.0:
                raise RecipeError(f"canaries: the floor of tier {tier!r} must be in [0, 1]")
        for canary in self.items:
            if not isinstance(canary, Canary):
                raise RecipeError(f"canaries: {canary!r} is not a Canary")
        for mutate in self.mutators:
            if not callable(mutate):
                raise RecipeError(f"canaries: mutator {mutate!r} is not callable")

    def measures(self, tier: str) -> bool:
        """Whether canaries are mixed into ``tier``'s stream."""
        return self.tiers is None or tier in self.tiers

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {
            "items": [
                {"payload": dict(c.payload), "bad": c.bad, "tiers": c.tiers, "label": c.label}
                for c in self.items
            ],
            "mutators": [
                f"{getattr(m, '__module__', '?')}:{getattr(m, '__qualname__', repr(m))}"
                for m in self.mutators
            ],
            "rate": self.rate,
            "good_share": self.good_share,
            "tiers": None if self.tiers is None else list(self.tiers),
            "floors": dict(self.floors),
            "min_count": self.min_count,
        }


@dataclass(frozen=True)
class CanaryCheck:
    """One canary verdict as the ledger keeps it."""

    canary_id: str
    run_id: str
    item_id: str
    step: str
    tier: str
    bad: bool
    source: str
    label: str
    status: str
    reason: str

    @property
    def counted(self) -> bool:
        """Infrastructure errors say nothing about the verifier: they are not counted."""
        return self.status in {"pass", "fail", "timeout", "sandbox_violation"}

    @property
    def right(self) -> bool:
        """The verifier gave the known answer: rejected a bad canary, passed a good one."""
        return (self.status != "pass") if self.bad else (self.status == "pass")


@dataclass(frozen=True)
class TierQuality:
    """How well one tier is known to judge: catch rate on bad canaries, false-reject rate
    on good ones, and whether it is below its floor."""

    tier: str
    caught: Rate
    false_rejects: Rate
    floor: float | None
    min_count: int
    by_source: Mapping[str, Rate]

    @property
    def below_floor(self) -> bool:
        """Enough bad canaries, and even the optimistic bound is under the floor."""
        if self.floor is None or self.caught.n < self.min_count:
            return False
        return self.caught.interval[1] < self.floor

    def message(self) -> str:
        """What a person should read when the tier is below its floor."""
        return (
            f"verifier tier {self.tier!r} catches {self.caught} of the known-bad canaries, "
            f"below its floor of {self.floor:.0%}: its passes say little about quality"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "tier": self.tier,
            "catch_rate": self.caught.to_dict(),
            "false_reject_rate": self.false_rejects.to_dict(),
            "floor": self.floor,
            "below_floor": self.below_floor,
            "by_source": {k: v.to_dict() for k, v in self.by_source.items()},
        }


def tier_quality(
    checks: Iterable[CanaryCheck], canaries: Canaries | None
) -> dict[str, TierQuality]:
    """Per tier, from recorded canary checks (``canaries`` gives the floors)."""
    bad: dict[str, list[bool]] = {}
    good: dict[str, list[bool]] = {}
    sources: dict[str, dict[str, list[bool]]] = {}
    for check in checks:
        if not check.counted:
            continue
        if check.bad:
            bad.setdefault(check.tier, []).append(check.right)
            sources.setdefault(check.tier, {}).setdefault(check.source, []).append(check.right)
        else:
            good.setdefault(check.tier, []).append(not check.right)
    floors = dict(canaries.floors) if canaries is not None else {}
    min_count = canaries.min_count if canaries is not None else 10
    out: dict[str, TierQuality] = {}
    for tier in sorted({*bad, *good}):
        caught = bad.get(tier, [])
        rejected = good.get(tier, [])
        out[tier] = TierQuality(
            tier=tier,
            caught=Rate(sum(caught), len(caught)),
            false_rejects=Rate(sum(rejected), len(rejected)),
            floor=floors.get(tier),
            min_count=min_count,
            by_source={s: Rate(sum(v), len(v)) for s, v in sorted(sources.get(tier, {}).items())},
        )
    return out


__all__ = ["Canaries", "Canary", "CanaryCheck", "Mutator", "TierQuality", "tier_quality"]
