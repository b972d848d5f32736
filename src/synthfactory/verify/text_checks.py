"""Built-in checks on values: presence, length, patterns, JSON schema, membership.

Each is a factory ``options -> (payload -> Verdict)``; ``verify.checks.CHECKS`` names them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Sized
from typing import Any

from synthfactory.errors import RecipeError
from synthfactory.recipe.steps import Payload
from synthfactory.verdict import Verdict
from synthfactory.verify.check_options import (
    Check,
    bool_option,
    field_parts,
    kind,
    lookup,
    short,
)


def nonempty(field: str) -> Check:
    parts = field_parts("nonempty", field)

    def verify(payload: Payload) -> Verdict:
        value, missing = lookup(field, parts, payload)
        if missing is not None:
            return missing
        if value is None:
            return Verdict.reject(f"field {field!r} is null")
        if isinstance(value, str) and not value.strip():
            return Verdict.reject(f"field {field!r} is empty or only whitespace")
        if isinstance(value, Sized) and not isinstance(value, str) and len(value) == 0:
            return Verdict.reject(f"field {field!r} is an empty {type(value).__name__}")
        return Verdict.ok()

    return verify


def length(field: str, min: int | None = None, max: int | None = None) -> Check:
    parts = field_parts("length", field)
    for option, bound in (("min", min), ("max", max)):
        whole = isinstance(bound, int) and not isinstance(bound, bool)
        if bound is not None and (not whole or bound < 0):
            raise RecipeError(
                f"check 'length': option {option!r} must be a whole number >= 0, "
                f"got {short(bound)}",
                option=option,
            )
    if min is None and max is None:
        raise RecipeError("check 'length': give 'min', 'max' or both", option="min")
    if min is not None and max is not None and min > max:
        raise RecipeError(f"check 'length': min {min} is above max {max}", option="min")
    low, high = min, max

    def verify(payload: Payload) -> Verdict:
        value, missing = lookup(field, parts, payload)
        if missing is not None:
            return missing
        if not isinstance(value, str | list | tuple):
            return Verdict.reject(
                f"field {field!r} is a {kind(value)}, not a string or list, so it has no length"
            )
        size = len(value)
        if low is not None and size < low:
            return Verdict.reject(f"field {field!r} has length {size}, below the minimum {low}")
        if high is not None and size > high:
            return Verdict.reject(f"field {field!r} has length {size}, above the maximum {high}")
        return Verdict.ok()

    return verify


def regex(field: str, pattern: str, fullmatch: bool = False) -> Check:
    parts = field_parts("regex", field)
    if not isinstance(pattern, str):
        raise RecipeError(
            f"check 'regex': option 'pattern' must be a string, got {short(pattern)}",
            option="pattern",
        )
    whole = bool_option("regex", "fullmatch", fullmatch)
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        raise RecipeError(
            f"check 'regex': invalid pattern {pattern!r}: {err}", option="pattern"
        ) from None
    match = compiled.fullmatch if whole else compiled.search
    how = "match the whole of" if whole else "match anywhere in"

    def verify(payload: Payload) -> Verdict:
        value, missing = lookup(field, parts, payload)
        if missing is not None:
            return missing
        if not isinstance(value, str):
            return Verdict.reject(f"field {field!r} is a {kind(value)}, not a string")
        if match(value) is None:
            return Verdict.reject(
                f"field {field!r} does not {how} pattern {pattern!r}: {short(value)}"
            )
        return Verdict.ok()

    return verify


def json_schema(field: str, schema: Mapping[str, Any]) -> Check:
    import jsonschema
    from jsonschema.exceptions import best_match

    parts = field_parts("json_schema", field)
    if not isinstance(schema, Mapping):
        raise RecipeError(
            f"check 'json_schema': option 'schema' must be a mapping, got {short(schema)}",
            option="schema",
        )
    try:
        jsonschema.Draft202012Validator.check_schema(dict(schema))
    except jsonschema.SchemaError as err:
        raise RecipeError(
            f"check 'json_schema': invalid JSON schema: {err.message}", option="schema"
        ) from None
    validator = jsonschema.Draft202012Validator(dict(schema))

    def verify(payload: Payload) -> Verdict:
        value, missing = lookup(field, parts, payload)
        if missing is not None:
            return missing
        error = best_match(validator.iter_errors(value))
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path)
            where = f" at {at!r}" if at else ""
            return Verdict.reject(
                f"field {field!r} does not match the JSON schema{where}: {error.message}"
            )
        return Verdict.ok()

    return verify


def contains(field: str, value: str, case_sensitive: bool = False) -> Check:
    parts = field_parts("contains", field)
    if not isinstance(value, str) or not value:
        raise RecipeError(
            f"check 'contains': option 'value' must be a non-empty string, got {short(value)}",
            option="value",
        )
    exact = bool_option("contains", "case_sensitive", case_sensitive)
    needle = value if exact else value.casefold()
    case = "" if exact else " (ignoring case)"

    def verify(payload: Payload) -> Verdict:
        text, missing = lookup(field, parts, payload)
        if missing is not None:
            return missing
        if not isinstance(text, str):
            return Verdict.reject(f"field {field!r} is a {kind(text)}, not a string")
        haystack = text if exact else text.casefold()
        if needle not in haystack:
            return Verdict.reject(f"field {field!r} does not contain {value!r}{case}")
        return Verdict.ok()

    return verify


def one_of(field: str, values: Sequence[Any]) -> Check:
    parts = field_parts("one_of", field)
    if not isinstance(values, list | tuple) or not values:
        raise RecipeError(
            f"check 'one_of': option 'values' must be a non-empty list, got {short(values)}",
            option="values",
        )
    allowed = list(values)

    def verify(payload: Payload) -> Verdict:
        value, missing = lookup(field, parts, payload)
        if missing is not None:
            return missing
        if value not in allowed:
            return Verdict.reject(f"field {field!r} is {short(value)}, not one of {allowed!r}")
        return Verdict.ok()

    return verify
