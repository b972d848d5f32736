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

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from synthfactory.errors import RecipeError
from synthfactory.verify import code_checks, text_checks
from synthfactory.verify.check_options import CheckFactory, factory, get_path
from synthfactory.verify.steps import VerifyFn


def build_check(name: str, options: Mapping[str, Any]) -> VerifyFn:
    """The verifier for check ``name`` with ``options``; ``RecipeError`` if either is wrong.

    The error carries ``option`` (the offending option's name, or ``"check"`` for an
    unknown check) so the YAML loader can point at the right line.
    """
    make = CHECKS.get(name)
    if make is None:
        raise RecipeError(
            f"unknown check {name!r}; known checks: {', '.join(sorted(CHECKS))}", option="check"
        )
    return make(**options)


#: Every built-in check, by the name a YAML recipe uses.
CHECKS: Mapping[str, CheckFactory] = MappingProxyType(
    {
        "nonempty": factory("nonempty", text_checks.nonempty),
        "length": factory("length", text_checks.length),
        "regex": factory("regex", text_checks.regex),
        "json_schema": factory("json_schema", text_checks.json_schema),
        "contains": factory("contains", text_checks.contains),
        "one_of": factory("one_of", text_checks.one_of),
        "python_syntax": factory("python_syntax", code_checks.python_syntax),
        "python_compiles": factory("python_compiles", code_checks.python_compiles),
        "sql_parses": factory("sql_parses", code_checks.sql_parses),
        "sql_plans": factory("sql_plans", code_checks.sql_plans),
        "math_equivalent": factory("math_equivalent", code_checks.math_equivalent),
        "tool_call": factory("tool_call", code_checks.tool_call),
        "pydantic_model": factory("pydantic_model", code_checks.pydantic_model),
    }
)

__all__ = ["CHECKS", "CheckFactory", "build_check", "get_path"]
