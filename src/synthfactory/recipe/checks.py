"""Built-in verifier checks that a YAML recipe can name without writing code.

``CHECKS`` maps a check's name to a factory. The factory takes the check's options (the
keyword arguments written in YAML, minus ``check``), refuses unknown or ill-typed ones with
a :class:`~synthfactory.errors.RecipeError`, and returns a plain function
``payload -> Verdict``. A check's "no" is a ``fail`` verdict whose reason says what failed;
it never raises on the payload it is given.

``field`` options are dotted paths into the payload: ``fact.text`` is ``payload["fact"]["text"]``.
A missing part is a ``fail`` verdict naming that part, not an exception.

The mapping is read-only and resolved only by the YAML loader: a Python recipe passes its
own functions, so there is nothing to register.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
from collections.abc import Callable, Mapping, Sequence, Sized
from types import MappingProxyType
from typing import Any

from synthfactory.errors import MissingDependencyError, RecipeError
from synthfactory.recipe.model import Payload, VerifyFn
from synthfactory.verdict import Verdict

#: A check factory: keyword options in, verifier function out.
CheckFactory = Callable[..., VerifyFn]

_Check = Callable[[Payload], Verdict]


def get_path(payload: Any, dotted: str) -> Any:
    """The value at ``dotted`` (``"a.b.c"`` walks nested mappings).

    Raises ``KeyError`` whose argument is the first part that is missing (or that sits
    under a value which is not a mapping).
    """
    parts = dotted.split(".")
    value, problem = _walk(payload, parts)
    if problem is not None:
        raise KeyError(parts[problem[0]])
    return value


def build_check(name: str, options: Mapping[str, Any]) -> VerifyFn:
    """The verifier for check ``name`` with ``options``; ``RecipeError`` if either is wrong.

    The error carries ``option`` (the offending option's name, or ``"check"`` for an
    unknown check) so the YAML loader can point at the right line.
    """
    factory = CHECKS.get(name)
    if factory is None:
        raise RecipeError(
            f"unknown check {name!r}; known checks: {', '.join(sorted(CHECKS))}", option="check"
        )
    return factory(**options)


def _walk(payload: Any, parts: Sequence[str]) -> tuple[Any, tuple[int, str] | None]:
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


def _lookup(field: str, parts: Sequence[str], payload: Payload) -> tuple[Any, Verdict | None]:
    value, problem = _walk(payload, parts)
    if problem is not None:
        return None, Verdict.reject(f"field {field!r} is missing: {problem[1]}")
    return value, None


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------
# Option checking, shared by every factory.


def _factory(name: str, make: Callable[..., _Check]) -> CheckFactory:
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


def _field_parts(check: str, field: object) -> tuple[str, ...]:
    if not isinstance(field, str) or not field or not all(field.split(".")):
        raise RecipeError(
            f"check {check!r}: option 'field' must be a dotted path such as 'answer.text', "
            f"got {_short(field)}",
            option="field",
        )
    return tuple(field.split("."))


def _bool_option(check: str, option: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise RecipeError(
            f"check {check!r}: option {option!r} must be true or false, got {_short(value)}",
            option=option,
        )
    return value


# ---------------------------------------------------------------------------------------
# The checks.


def _nonempty(field: str) -> _Check:
    parts = _field_parts("nonempty", field)

    def verify(payload: Payload) -> Verdict:
        value, missing = _lookup(field, parts, payload)
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


def _length(field: str, min: int | None = None, max: int | None = None) -> _Check:
    parts = _field_parts("length", field)
    for option, bound in (("min", min), ("max", max)):
        whole = isinstance(bound, int) and not isinstance(bound, bool)
        if bound is not None and (not whole or bound < 0):
            raise RecipeError(
                f"check 'length': option {option!r} must be a whole number >= 0, "
                f"got {_short(bound)}",
                option=option,
            )
    if min is None and max is None:
        raise RecipeError("check 'length': give 'min', 'max' or both", option="min")
    if min is not None and max is not None and min > max:
        raise RecipeError(f"check 'length': min {min} is above max {max}", option="min")
    low, high = min, max

    def verify(payload: Payload) -> Verdict:
        value, missing = _lookup(field, parts, payload)
        if missing is not None:
            return missing
        if not isinstance(value, str | list | tuple):
            return Verdict.reject(
                f"field {field!r} is a {_kind(value)}, not a string or list, so it has no length"
            )
        size = len(value)
        if low is not None and size < low:
            return Verdict.reject(f"field {field!r} has length {size}, below the minimum {low}")
        if high is not None and size > high:
            return Verdict.reject(f"field {field!r} has length {size}, above the maximum {high}")
        return Verdict.ok()

    return verify


def _regex(field: str, pattern: str, fullmatch: bool = False) -> _Check:
    parts = _field_parts("regex", field)
    if not isinstance(pattern, str):
        raise RecipeError(
            f"check 'regex': option 'pattern' must be a string, got {_short(pattern)}",
            option="pattern",
        )
    whole = _bool_option("regex", "fullmatch", fullmatch)
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        raise RecipeError(
            f"check 'regex': invalid pattern {pattern!r}: {err}", option="pattern"
        ) from None
    match = compiled.fullmatch if whole else compiled.search
    how = "match the whole of" if whole else "match anywhere in"

    def verify(payload: Payload) -> Verdict:
        value, missing = _lookup(field, parts, payload)
        if missing is not None:
            return missing
        if not isinstance(value, str):
            return Verdict.reject(f"field {field!r} is a {_kind(value)}, not a string")
        if match(value) is None:
            return Verdict.reject(
                f"field {field!r} does not {how} pattern {pattern!r}: {_short(value)}"
            )
        return Verdict.ok()

    return verify


def _json_schema(field: str, schema: Mapping[str, Any]) -> _Check:
    import jsonschema
    from jsonschema.exceptions import best_match

    parts = _field_parts("json_schema", field)
    if not isinstance(schema, Mapping):
        raise RecipeError(
            f"check 'json_schema': option 'schema' must be a mapping, got {_short(schema)}",
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
        value, missing = _lookup(field, parts, payload)
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


def _contains(field: str, value: str, case_sensitive: bool = False) -> _Check:
    parts = _field_parts("contains", field)
    if not isinstance(value, str) or not value:
        raise RecipeError(
            f"check 'contains': option 'value' must be a non-empty string, got {_short(value)}",
            option="value",
        )
    exact = _bool_option("contains", "case_sensitive", case_sensitive)
    needle = value if exact else value.casefold()
    case = "" if exact else " (ignoring case)"

    def verify(payload: Payload) -> Verdict:
        text, missing = _lookup(field, parts, payload)
        if missing is not None:
            return missing
        if not isinstance(text, str):
            return Verdict.reject(f"field {field!r} is a {_kind(text)}, not a string")
        haystack = text if exact else text.casefold()
        if needle not in haystack:
            return Verdict.reject(f"field {field!r} does not contain {value!r}{case}")
        return Verdict.ok()

    return verify


def _one_of(field: str, values: Sequence[Any]) -> _Check:
    parts = _field_parts("one_of", field)
    if not isinstance(values, list | tuple) or not values:
        raise RecipeError(
            f"check 'one_of': option 'values' must be a non-empty list, got {_short(values)}",
            option="values",
        )
    allowed = list(values)

    def verify(payload: Payload) -> Verdict:
        value, missing = _lookup(field, parts, payload)
        if missing is not None:
            return missing
        if value not in allowed:
            return Verdict.reject(f"field {field!r} is {_short(value)}, not one of {allowed!r}")
        return Verdict.ok()

    return verify


def _python_check(check: str, field: str, read: Callable[[str], object], failure: str) -> _Check:
    """A check that only reads Python source with ``read`` (parse or compile): nothing runs."""
    parts = _field_parts(check, field)

    def verify(payload: Payload) -> Verdict:
        source, missing = _lookup(field, parts, payload)
        if missing is not None:
            return missing
        if not isinstance(source, str):
            return Verdict.reject(f"field {field!r} is a {_kind(source)}, not a string")
        try:
            read(source)
        except SyntaxError as err:
            return Verdict.reject(f"field {field!r} {failure}: line {err.lineno}: {err.msg}")
        except (ValueError, RecursionError, MemoryError) as err:
            # null bytes, or nesting too deep for the parser
            return Verdict.reject(f"field {field!r} {failure}: {type(err).__name__}: {err}")
        return Verdict.ok()

    return verify


def _python_syntax(field: str) -> _Check:
    # Parsing only builds a tree; nothing in the source runs.
    return _python_check("python_syntax", field, ast.parse, "is not valid Python")


def _python_compiles(field: str) -> _Check:
    # compile() only turns source into a code object; nothing runs. It catches what
    # ast.parse lets through: 'return' or 'break' outside their blocks, and the like.
    return _python_check(
        "python_compiles",
        field,
        lambda source: compile(source, "<generated>", "exec", dont_inherit=True),
        "does not compile",
    )


def _sql_parses(field: str, dialect: str | None = None) -> _Check:
    try:
        import sqlglot
        from sqlglot.errors import ErrorLevel, SqlglotError
    except ImportError:
        raise MissingDependencyError.for_extra("sqlglot", "validators") from None

    parts = _field_parts("sql_parses", field)
    if dialect is not None:
        try:
            sqlglot.Dialect.get_or_raise(dialect)
        except ValueError as err:
            raise RecipeError(f"check 'sql_parses': {err}", option="dialect") from None

    def verify(payload: Payload) -> Verdict:
        sql, missing = _lookup(field, parts, payload)
        if missing is not None:
            return missing
        if not isinstance(sql, str) or not sql.strip():
            return Verdict.reject(f"field {field!r} is not a non-empty SQL string")
        try:
            statements = sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE)
        except SqlglotError as err:
            first = str(err).splitlines()[0]
            return Verdict.reject(f"field {field!r} is not valid SQL: {first}")
        if not any(s is not None for s in statements):
            return Verdict.reject(f"field {field!r} holds no SQL statement")
        return Verdict.ok()

    return verify


def _math_equivalent(
    field: str, expected: str | None = None, expected_field: str | None = None
) -> _Check:
    from synthfactory.recipe.mathexpr import MathParseError, equivalent, parse_math

    try:
        import sympy  # noqa: F401  (checked here so a missing extra fails at load, not per item)
    except ImportError:
        raise MissingDependencyError.for_extra("sympy", "validators") from None

    parts = _field_parts("math_equivalent", field)
    if (expected is None) == (expected_field is None):
        raise RecipeError(
            "check 'math_equivalent': give exactly one of 'expected' or 'expected_field'",
            option="expected",
        )
    fixed = None
    if expected is not None:
        try:
            fixed = parse_math(str(expected))
        except MathParseError as err:
            raise RecipeError(
                f"check 'math_equivalent': expected: {err}", option="expected"
            ) from None
    other_parts = _field_parts("math_equivalent", expected_field) if expected_field else ()

    def verify(payload: Payload) -> Verdict:
        answer, missing = _lookup(field, parts, payload)
        if missing is not None:
            return missing
        target = fixed
        if target is None:
            raw, missing = _lookup(str(expected_field), other_parts, payload)
            if missing is not None:
                return missing
            try:
                target = parse_math(str(raw))
            except MathParseError as err:
                return Verdict("infra_error", f"expected value does not parse: {err}")
        try:
            got = parse_math(str(answer))
        except MathParseError as err:
            return Verdict.reject(f"field {field!r} is not a math expression: {err}")
        same = equivalent(got, target)
        if same is None:
            return Verdict(
                "timeout", f"could not decide whether {field!r} equals the expected value"
            )
        if not same:
            return Verdict.reject(
                f"field {field!r} = {_short(answer)} is not equivalent to the expected value"
            )
        return Verdict.ok()

    return verify


def _tool_call(field: str, tools: Sequence[Mapping[str, Any]]) -> _Check:
    import json

    import jsonschema
    from jsonschema.exceptions import best_match

    parts = _field_parts("tool_call", field)
    if not isinstance(tools, list | tuple) or not tools:
        raise RecipeError(
            "check 'tool_call': option 'tools' must be a non-empty list", option="tools"
        )
    validators: dict[str, jsonschema.protocols.Validator] = {}
    for tool in tools:
        spec = tool.get("function", tool) if isinstance(tool, Mapping) else None
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise RecipeError(
                "check 'tool_call': each tool needs a 'name' and a 'parameters' JSON schema "
                "(OpenAI's {type: function, function: {...}} form is accepted too)",
                option="tools",
            )
        schema = dict(spec.get("parameters") or {"type": "object"})
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as err:
            raise RecipeError(
                f"check 'tool_call': tool {spec['name']!r}: "
                f"invalid parameters schema: {err.message}",
                option="tools",
            ) from None
        validators[spec["name"]] = jsonschema.Draft202012Validator(schema)

    def verify(payload: Payload) -> Verdict:
        call, missing = _lookup(field, parts, payload)
        if missing is not None:
            return missing
        if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
            call = call["function"]  # the OpenAI message form {id, type, function: {...}}
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            return Verdict.reject(f"field {field!r} is not a tool call with a 'name'")
        validator = validators.get(call["name"])
        if validator is None:
            return Verdict.reject(
                f"field {field!r} calls unknown tool {call['name']!r}; tools: {sorted(validators)}"
            )
        arguments = call.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError as err:
                return Verdict.reject(f"field {field!r}: arguments are not valid JSON: {err}")
        error = best_match(validator.iter_errors(arguments))
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return Verdict.reject(
                f"field {field!r}: arguments of {call['name']!r} do not match its schema at {at}: "
                f"{error.message}"
            )
        return Verdict.ok()

    return verify


def _pydantic_model(field: str, model: str) -> _Check:
    import importlib

    from pydantic import BaseModel, ValidationError

    parts = _field_parts("pydantic_model", field)
    module_name, _, attr = str(model).partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise RecipeError(
            f"check 'pydantic_model': cannot import {model!r} (use module:Class): {err}",
            option="model",
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        raise RecipeError(
            f"check 'pydantic_model': {model!r} is not a pydantic model", option="model"
        )

    def verify(payload: Payload) -> Verdict:
        value, missing = _lookup(field, parts, payload)
        if missing is not None:
            return missing
        try:
            cls.model_validate(value)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            return Verdict.reject(
                f"field {field!r} does not fit {cls.__name__} at {where}: {first['msg']}"
            )
        return Verdict.ok()

    return verify


#: Every built-in check, by the name a YAML recipe uses.
CHECKS: Mapping[str, CheckFactory] = MappingProxyType(
    {
        "nonempty": _factory("nonempty", _nonempty),
        "length": _factory("length", _length),
        "regex": _factory("regex", _regex),
        "json_schema": _factory("json_schema", _json_schema),
        "contains": _factory("contains", _contains),
        "one_of": _factory("one_of", _one_of),
        "python_syntax": _factory("python_syntax", _python_syntax),
        "python_compiles": _factory("python_compiles", _python_compiles),
        "sql_parses": _factory("sql_parses", _sql_parses),
        "math_equivalent": _factory("math_equivalent", _math_equivalent),
        "tool_call": _factory("tool_call", _tool_call),
        "pydantic_model": _factory("pydantic_model", _pydantic_model),
    }
)

__all__ = ["CHECKS", "CheckFactory", "build_check", "get_path"]
