"""What every built-in check shares: dotted payload paths and option checking.

A check factory takes the options written in YAML and returns ``payload -> Verdict``;
:func:`factory` wraps it so a bad option is a :class:`~synthfactory.errors.RecipeError`
naming the option, and the verifier's name spells out its options (so the recipe digest
changes when an option does).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from synthfactory.errors import RecipeError
from synthfactory.recipe.steps import Payload
from synthfactory.verdict import Verdict
from synthfactory.verify.steps import VerifyFn

#: A check factory: keyword options in, verifier function out.
CheckFactory = Callable[..., VerifyFn]

Check = Callable[[Payload], Verdict]


def get_path(payload: Any, dotted: str) -> Any:
    """The value at ``dotted`` (``"a.b.c"`` walks nested mappings).

    Raises ``KeyError`` whose argument is the first part that is missing (or that sits
    under a value which is not a mapping).
    """
    parts = dotted.split(".")
    value, problem = walk_path(payload, parts)
    if problem is not None:
        raise KeyError(parts[problem[0]])
    return value


def walk_path(payload: Any, parts: Sequence[str]) -> tuple[Any, tuple[int, str] | None]:
    """Walk ``parts``; on failure return the index of the bad part and why it is bad."""
    current = payload
    for index, part in enumerate(parts):
        where = repr(".".join(parts[:index])) if index else "the payload"
        if not isinstance(current, Mapping):
            return None, (index, f"{where} is a {type(current).__name__}, not a mapping")
        if part not in current:
            return None, (index, f"{where} has no {part!r}")
        current = current[part]
    return current, None


def lookup(field: str, parts: Sequence[str], payload: Payload) -> tuple[Any, Verdict | None]:
    value, problem = walk_path(payload, parts)
    if problem is not None:
        return None, Verdict.reject(f"field {field!r} is missing: {problem[1]}")
    return value, None


def kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------
# Option checking, shared by every factory.


def factory(name: str, make: Callable[..., Check]) -> CheckFactory:
    """Wrap ``make`` so bad options are a RecipeError and the verifier is named by its options.

    The verifier's ``__qualname__`` spells out the options so the recipe digest (which
    names verifier functions) changes when an option does.
    """
    params = inspect.signature(make).parameters
    allowed = ", ".join(params)
    required = [p for p, spec in params.items() if spec.default is inspect.Parameter.empty]

    @functools.wraps(make)
    def build(**options: Any) -> VerifyFn:
        unknown = [key for key in options if key not in params]
        if unknown:
            raise RecipeError(
                f"check {name!r}: unknown option {unknown[0]!r}; allowed options: {allowed}",
                option=unknown[0],
            )
        missing = [key for key in required if key not in options]
        if missing:
            raise RecipeError(
                f"check {name!r}: missing required option {missing[0]!r}; "
                f"allowed options: {allowed}",
            )
        verify = make(**options)
        spelled = ", ".join(f"{key}={options[key]!r}" for key in sorted(options))
        verify.__qualname__ = f"{name}({spelled})"
        return verify

    return build


def field_parts(check: str, field: object) -> tuple[str, ...]:
    if not isinstance(field, str) or not field or not all(field.split(".")):
        raise RecipeError(
            f"check {check!r}: option 'field' must be a dotted path such as 'answer.text', "
            f"got {short(field)}",
            option="field",
        )
    return tuple(field.split("."))


def bool_option(check: str, option: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise RecipeError(
            f"check {check!r}: option {option!r} must be true or false, got {short(value)}",
            option=option,
        )
    return value


__all__ = [
    "Check",
    "CheckFactory",
    "bool_option",
    "factory",
    "field_parts",
    "get_path",
    "kind",
    "lookup",
    "short",
]
