"""Samplers: small callables that draw one seed field for an item from its own RNG.

A sampler is any ``Callable[[random.Random], Any]``; the classes here add a ``describe()``
used for the recipe digest, so that changing a sampler changes the recipe's identity.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Sampler(Protocol):
    """Draws one value from ``rng``; must use no other source of randomness."""

    def __call__(self, rng: random.Random) -> Any: ...


@dataclass(frozen=True)
class Choice:
    """Uniform choice among ``values``."""

    values: tuple[Any, ...]

    def __call__(self, rng: random.Random) -> Any:
        return self.values[rng.randrange(len(self.values))]

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {"choice": list(self.values)}


@dataclass(frozen=True)
class Weighted:
    """Choice with weights: ``{"easy": 3, "hard": 1}``."""

    weights: tuple[tuple[Any, float], ...]

    def __call__(self, rng: random.Random) -> Any:
        values = [v for v, _ in self.weights]
        return rng.choices(values, weights=[w for _, w in self.weights], k=1)[0]

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {"weighted": [[v, w] for v, w in self.weights]}


@dataclass(frozen=True)
class RandInt:
    """An integer in ``[low, high]``, both ends included."""

    low: int
    high: int

    def __call__(self, rng: random.Random) -> int:
        return rng.randint(self.low, self.high)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {"randint": [self.low, self.high]}


@dataclass(frozen=True)
class Uniform:
    """A float in ``[low, high)``."""

    low: float
    high: float

    def __call__(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {"uniform": [self.low, self.high]}


def choice(values: Sequence[Any]) -> Choice:
    """Uniform choice among ``values`` (must not be empty)."""
    if len(values) == 0:
        raise ValueError("choice() needs at least one value")
    return Choice(tuple(values))


def weighted(weights: Mapping[Any, float]) -> Weighted:
    """Weighted choice: ``weighted({"easy": 3, "hard": 1})``."""
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("weighted() needs non-negative weights with a positive sum")
    return Weighted(tuple(weights.items()))


def randint(low: int, high: int) -> RandInt:
    """An integer in ``[low, high]``."""
    if low > high:
        raise ValueError(f"randint({low}, {high}): low is above high")
    return RandInt(low, high)


def uniform(low: float, high: float) -> Uniform:
    """A float in ``[low, high)``."""
    if low > high:
        raise ValueError(f"uniform({low}, {high}): low is above high")
    return Uniform(low, high)


def describe_sampler(sampler: Callable[[random.Random], Any]) -> Any:
    """Describe any sampler for the recipe digest (a plain callable is named by qualname)."""
    describe = getattr(sampler, "describe", None)
    if callable(describe):
        return describe()
    module = getattr(sampler, "__module__", "?")
    return {"callable": f"{module}:{getattr(sampler, '__qualname__', repr(sampler))}"}
