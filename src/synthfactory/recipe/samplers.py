"""Samplers: small callables that draw one seed field for an item from its own RNG.

A sampler is any ``Callable[[random.Random], Any]``; the classes here add a ``describe()``
used for the recipe digest, so that changing a sampler changes the recipe's identity.
"""

from __future__ import annotations

import math
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

    def categories(self) -> tuple[Any, ...]:
        """The values this sampler can draw (what coverage targets count)."""
        return self.values

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

    def categories(self) -> tuple[Any, ...]:
        """The values this sampler can draw (what coverage targets count)."""
        return tuple(v for v, w in self.weights if w > 0)

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


@dataclass(frozen=True)
class Normal:
    """A normal draw, kept inside ``[low, high]`` by redrawing, optionally rounded.

    Redrawing (not clamping) keeps the shape inside the bounds instead of piling mass on
    them; after 64 misses the value is clamped, so an item never hangs on a bad bound.
    """

    mean: float
    std: float
    low: float = -math.inf
    high: float = math.inf
    digits: int | None = None
    log: bool = False

    def __call__(self, rng: random.Random) -> float:
        value = self.low
        for _ in range(64):
            value = (
                rng.lognormvariate(self.mean, self.std)
                if self.log
                else rng.gauss(self.mean, self.std)
            )
            if self.low <= value <= self.high:
                break
        value = min(max(value, self.low), self.high)
        if self.digits is None:
            return value
        return round(value, self.digits) if self.digits > 0 else float(round(value))

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {
            "lognormal" if self.log else "normal": {
                "mean": self.mean,
                "std": self.std,
                "low": None if math.isinf(self.low) else self.low,
                "high": None if math.isinf(self.high) else self.high,
                "digits": self.digits,
            }
        }


@dataclass(frozen=True)
class Combine:
    """A record of several samplers' draws that satisfies every constraint.

    ``where`` are predicates over the drawn record; a record breaking any is drawn again
    (rejection sampling). A set of constraints that almost nothing satisfies is an error
    in the recipe, reported after ``max_tries`` draws instead of looping forever.
    """

    fields: tuple[tuple[str, Callable[[random.Random], Any]], ...]
    where: tuple[Callable[[Mapping[str, Any]], bool], ...] = ()
    max_tries: int = 1000

    def __call__(self, rng: random.Random) -> dict[str, Any]:
        for _ in range(self.max_tries):
            record = {name: sampler(rng) for name, sampler in self.fields}
            if all(rule(record) for rule in self.where):
                return record
        raise ValueError(
            f"no combination of {[n for n, _ in self.fields]} met the constraints in "
            f"{self.max_tries} draws; loosen them"
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {
            "combine": {name: describe_sampler(s) for name, s in self.fields},
            "where": [getattr(w, "describe", lambda w=w: _callable_name(w))() for w in self.where],
        }


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


@dataclass(frozen=True)
class Constraint:
    """A predicate over a drawn record, written as a sandboxed Jinja expression:
    ``"not (level == 'beginner' and topic == 'monads')"``."""

    expr: str

    def __post_init__(self) -> None:
        from synthfactory.recipe.templates import compile_expression

        compile_expression(self.expr)  # fail at load, not at the first draw

    def __call__(self, record: Mapping[str, Any]) -> bool:
        from synthfactory.recipe.templates import compile_expression

        try:
            return bool(compile_expression(self.expr)(**record))
        except Exception as err:  # an undefined name, a type error: the recipe's mistake
            raise ValueError(f"constraint {self.expr!r} failed: {err}") from None

    def describe(self) -> str:
        """The expression (for the recipe digest)."""
        return self.expr


def normal(
    mean: float,
    std: float,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    digits: int | None = None,
) -> Normal:
    """A normal draw in ``[low, high]``, rounded to ``digits`` if given."""
    _check_spread(mean, std, low, high, "normal")
    return Normal(float(mean), float(std), float(low), float(high), digits)


def lognormal(
    mean: float,
    std: float,
    *,
    low: float = 0.0,
    high: float = math.inf,
    digits: int | None = None,
) -> Normal:
    """A log-normal draw (``mean``, ``std`` of the underlying normal) in ``[low, high]``."""
    _check_spread(mean, std, low, high, "lognormal")
    return Normal(float(mean), float(std), float(low), float(high), digits, log=True)


def combine(
    fields: Mapping[str, Callable[[random.Random], Any]],
    *,
    where: Sequence[Callable[[Mapping[str, Any]], bool]] = (),
    max_tries: int = 1000,
) -> Combine:
    """Draw several fields together, redrawing until every ``where`` predicate holds.

    ``combine({"level": choice([...]), "topic": choice([...])}, where=[lambda r: ...])``
    """
    if not fields:
        raise ValueError("combine() needs at least one field")
    if max_tries < 1:
        raise ValueError("combine(): max_tries must be at least 1")
    for name, sampler in fields.items():
        if not callable(sampler):
            raise ValueError(f"combine(): field {name!r} is not a sampler")
    return Combine(tuple(fields.items()), tuple(where), max_tries)


def _check_spread(mean: float, std: float, low: float, high: float, kind: str) -> None:
    if not (math.isfinite(mean) and math.isfinite(std)) or std < 0:
        raise ValueError(f"{kind}(): mean must be finite and std a finite number >= 0")
    if low > high:
        raise ValueError(f"{kind}(): low ({low}) is above high ({high})")


def _callable_name(fn: object) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def describe_sampler(sampler: Callable[[random.Random], Any]) -> Any:
    """Describe any sampler for the recipe digest (a plain callable is named by qualname)."""
    describe = getattr(sampler, "describe", None)
    if callable(describe):
        return describe()
    return {"callable": _callable_name(sampler)}
