"""Coverage steering: fill every category to its target, and stop the ones that cannot be.

The driver asks :meth:`Steering.choose` which category the next item should ask for:
under-filled categories are drawn in proportion to what they still need (counting items
in flight, so a slow category is not flooded), full ones never. When an item passes, its
real category (its label, which a drifting model may make differ from what was asked) is
counted; an item of a full category is turned away so no category overshoots. A category
whose items keep coming back as duplicates is declared exhausted: the model has run out
of new ideas there, and the run stops asking for it instead of looping.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from synthfactory.recipe.model import Coverage
from synthfactory.verify.checks import get_path


class Steering:
    """Category counts for one run, and the choice of what to ask for next."""

    def __init__(self, coverage: Coverage, targets: Mapping[str, int]) -> None:
        self.coverage = coverage
        self.targets = dict(targets)
        self.usable: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.exhausted: dict[str, str] = {}
        self._repeats: Counter[str] = Counter()

    # -- what to ask for -------------------------------------------------------------

    def need(self, category: str) -> int:
        """How many more usable items ``category`` needs, beyond those in flight."""
        return self.targets[category] - self.usable[category] - self.in_flight[category]

    def choose(self, rng: random.Random) -> str | None:
        """The category the next item asks for, or None if none needs an item now."""
        open_ = [c for c in self.targets if c not in self.exhausted and self.need(c) > 0]
        if not open_:
            return None
        return rng.choices(open_, weights=[self.need(c) for c in open_], k=1)[0]

    def requested(self, payload: Mapping[str, Any]) -> str:
        """The category an item asked for."""
        return str(payload.get(self.coverage.field))

    def label(self, payload: Mapping[str, Any]) -> str | None:
        """The category an item is, once made (None if it does not say)."""
        return category_of(payload, self.coverage.label_path)

    def full(self, payload: Mapping[str, Any]) -> str | None:
        """Why an item must be turned away because its category is already full, if it is."""
        label = self.label(payload)
        if label is None or label not in self.targets or self.usable[label] < self.targets[label]:
            return None
        return f"coverage: category {label!r} is full ({self.targets[label]})"

    # -- what happened ---------------------------------------------------------------

    def admitted(self, payload: Mapping[str, Any]) -> None:
        """An item asking for its category is in flight."""
        self.in_flight[self.requested(payload)] += 1

    def finished(self, payload: Mapping[str, Any]) -> None:
        """An item is no longer in flight (passed, rejected or failed)."""
        category = self.requested(payload)
        if self.in_flight[category] > 0:
            self.in_flight[category] -= 1

    def accept(self, payload: Mapping[str, Any]) -> str | None:
        """Count a passing item; the reason to turn it away instead, if any."""
        full = self.full(payload)
        if full is not None:
            return full
        label = self.label(payload)
        if label is None or label not in self.targets:
            known = ", ".join(sorted(self.targets)[:10])
            return (
                f"coverage: category {label!r} (from {self.coverage.label_path!r}) has no "
                f"target; known: {known}"
            )
        self.usable[label] += 1
        return None

    def restore(
        self, payloads: Iterable[Mapping[str, Any]], active: Iterable[Mapping[str, Any]]
    ) -> None:
        """Rebuild counts on resume from the usable items and those still in flight."""
        for payload in payloads:
            label = self.label(payload)
            if label is not None:
                self.usable[label] += 1
        for payload in active:
            self.admitted(payload)

    def repeat(self, payload: Mapping[str, Any], patience: int) -> str | None:
        """An item came back a duplicate; the category's exhaustion message if it now is."""
        category = self.requested(payload)
        self._repeats[category] += 1
        if self._repeats[category] >= patience and category not in self.exhausted:
            self.exhausted[category] = (
                f"category {category!r} stopped at {self.usable[category]} of "
                f"{self.targets.get(category, 0)}: its last {patience} items were all "
                "duplicates (the model has run out of new ideas for it)"
            )
            return self.exhausted[category]
        return None

    def fresh(self, payload: Mapping[str, Any]) -> None:
        """An item was not a duplicate: its category is still producing new things."""
        self._repeats[self.requested(payload)] = 0


def category_of(payload: Mapping[str, Any], label_path: str) -> str | None:
    """The category at ``label_path`` of a payload, as text (None if it has none)."""
    try:
        value = get_path(payload, label_path)
    except KeyError:
        return None
    return None if value is None else str(value)


__all__ = ["Steering", "category_of"]
