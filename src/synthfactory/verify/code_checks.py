"""Built-in checks that read code or structured answers without running them: Python
syntax and compilation, SQL parsing and planning, math equivalence, tool calls, pydantic
models.

Nothing here executes generated code; that is the sandbox tier's job.
"""

from __future__ import annotations

import ast
import contextlib
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from synthfactory.errors import MissingDependencyError, RecipeError
from synthfactory.recipe.steps import Payload
from synthfactory.verdict import Verdict
from synthfactory.verify.check_options import (
    Check,
    field_parts,
    kind,
    lookup,
    short,
)


def _sql_text(field: str, parts: tuple[str, ...], payload: Payload) -> tuple[str, Verdict | None]:
    """The SQL string at ``field``, or the verdict refusing it (missing, not a string, or
    blank)."""
    sql, missing = lookup(field, parts, payload)
    if missing is not None:
        return "", missing
    if not isinstance(sql, str) or not sql.strip():
        return "", Verdict.reject(f"field {field!r} is not a non-empty SQL string")
    return sql, None


def _python_check(check: str, field: str, read: Callable[[str], object], failure: str) -> Check:
    """A check that only reads Python source with ``read`` (parse or compile): nothing runs."""
    parts = field_parts(check, field)

    def verify(payload: Payload) -> Verdict:
        source, missing = lookup(field, parts, payload)
        if missing is not None:
            return missing
        if not isinstance(source, str):
            return Verdict.reject(f"field {field!r} is a {kind(source)}, not a string")
        try:
            read(source)
        except SyntaxError as err:
            return Verdict.reject(f"field {field!r} {failure}: line {err.lineno}: {err.msg}")
        except (ValueError, RecursionError, MemoryError) as err:
            # null bytes, or nesting too deep for the parser
            return Verdict.reject(f"field {field!r} {failure}: {type(err).__name__}: {err}")
        return Verdict.ok()

    return verify


def python_syntax(field: str) -> Check:
    # Parsing only builds a tree; nothing in the source runs.
    return _python_check("python_syntax", field, ast.parse, "is not valid Python")


def python_compiles(field: str) -> Check:
    # compile() only turns source into a code object; nothing runs. It catches what
    # ast.parse lets through: 'return' or 'break' outside their blocks, and the like.
    return _python_check(
        "python_compiles",
        field,
        lambda source: compile(source, "<generated>", "exec", dont_inherit=True),
        "does not compile",
    )


def sql_parses(field: str, dialect: str | None = None) -> Check:
    try:
        import sqlglot
        from sqlglot.errors import ErrorLevel, SqlglotError
    except ImportError:
        raise MissingDependencyError.for_extra("sqlglot", "validators") from None

    parts = field_parts("sql_parses", field)
    if dialect is not None:
        try:
            sqlglot.Dialect.get_or_raise(dialect)
        except ValueError as err:
            raise RecipeError(f"check 'sql_parses': {err}", option="dialect") from None

    def verify(payload: Payload) -> Verdict:
        sql, refused = _sql_text(field, parts, payload)
        if refused is not None:
            return refused
        try:
            statements = sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE)
        except SqlglotError as err:
            first = str(err).splitlines()[0]
            return Verdict.reject(f"field {field!r} is not valid SQL: {first}")
        if not any(s is not None for s in statements):
            return Verdict.reject(f"field {field!r} holds no SQL statement")
        return Verdict.ok()

    return verify


#: The authorizer actions a read-only query needs; everything else (writes, PRAGMA,
#: ATTACH, schema changes, transactions) is refused while the statement is prepared.
_READ_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_FUNCTION,
        sqlite3.SQLITE_RECURSIVE,
    }
)
_READ_KEYWORDS = ("select", "with", "values")
_SQL_COMMENT = re.compile(r"\s+|--[^\n]*(\n|$)|/\*.*?(\*/|$)", re.DOTALL)


def _schema_ddl(schema: object, database: object) -> list[str]:
    """The CREATE statements to build the empty planning database from."""
    if (schema is None) == (database is None):
        raise RecipeError(
            "check 'sql_plans': give exactly one of 'schema' (DDL text) or 'database' "
            "(a SQLite file whose schema is used)",
            option="schema",
        )
    if schema is not None:
        if not isinstance(schema, str) or not schema.strip():
            raise RecipeError(
                "check 'sql_plans': option 'schema' must be CREATE statements", option="schema"
            )
        return [schema]
    path = Path(str(database))
    if not path.is_file():
        raise RecipeError(f"check 'sql_plans': no database file at {path}", option="database")
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        ) as db:
            rows = db.execute(
                "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL "
                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            ).fetchall()
    except sqlite3.Error as err:
        raise RecipeError(
            f"check 'sql_plans': cannot read the schema of {path}: {err}", option="database"
        ) from None
    return [f"{sql};" for (sql,) in rows]


def _first_keyword(sql: str) -> str:
    rest = sql
    while True:
        stripped = _SQL_COMMENT.match(rest)
        if stripped is None or not stripped.group(0):
            break
        rest = rest[stripped.end() :]
    rest = rest.lstrip("(")
    return re.split(r"[^A-Za-z]", rest, maxsplit=1)[0].lower()


def sql_plans(
    field: str, schema: str | None = None, database: str | None = None, max_length: int = 20_000
) -> Check:
    """SQLite must be able to plan the query against the schema; nothing runs, no data is read.

    Options: ``field`` (the dotted path of the SQL); exactly one of ``schema`` (CREATE
    statements) or ``database`` (a SQLite file, opened read-only at load, whose CREATE
    statements are used, never its rows); ``max_length`` (longest SQL accepted, characters).

    The query is prepared with ``EXPLAIN`` in an in-memory database holding only the
    schema, so unknown tables, columns and functions, ambiguous column names, misused
    aggregates and syntax errors are caught, but the query is never executed and sees no
    data. It must be one read-only statement: anything else (a write, PRAGMA, ATTACH,
    several statements) is refused by an authorizer while it is prepared.
    """
    parts = field_parts("sql_plans", field)
    ddl = _schema_ddl(schema, database)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
        raise RecipeError(
            f"check 'sql_plans': option 'max_length' must be a positive integer, "
            f"got {short(max_length)}",
            option="max_length",
        )
    # Check the schema once at load, so a broken one is the recipe's error, not every item's.
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        try:
            for statement in ddl:
                db.executescript(statement)
        except sqlite3.Error as err:
            raise RecipeError(
                f"check 'sql_plans': the schema does not build: {err}",
                option="schema" if schema is not None else "database",
            ) from None

    def authorize(action: int, *_: object) -> int:
        return sqlite3.SQLITE_OK if action in _READ_ACTIONS else sqlite3.SQLITE_DENY

    def verify(payload: Payload) -> Verdict:
        sql, refused = _sql_text(field, parts, payload)
        if refused is not None:
            return refused
        if len(sql) > max_length:
            return Verdict.reject(f"field {field!r} is longer than {max_length} characters")
        keyword = _first_keyword(sql)
        if keyword not in _READ_KEYWORDS:
            return Verdict.reject(
                f"field {field!r} is not a read-only query: it starts with {keyword or sql[:20]!r}"
            )
        # A fresh database per call: cheap (the schema only) and safe across threads.
        with contextlib.closing(sqlite3.connect(":memory:")) as db:
            for statement in ddl:
                db.executescript(statement)
            db.set_authorizer(authorize)
            try:
                db.execute(f"EXPLAIN {sql}")
            except sqlite3.ProgrammingError as err:  # several statements
                return Verdict.reject(f"field {field!r} is not a single statement: {err}")
            except sqlite3.DatabaseError as err:
                if "not authorized" in str(err):
                    return Verdict.reject(f"field {field!r} is not a read-only query: {err}")
                return Verdict.reject(f"field {field!r} does not plan against the schema: {err}")
            except (sqlite3.Warning, ValueError, OverflowError) as err:
                return Verdict.reject(f"field {field!r} cannot be prepared: {err}")
        return Verdict.ok()

    return verify


def math_equivalent(
    field: str, expected: str | None = None, expected_field: str | None = None
) -> Check:
    from synthfactory.verify.mathexpr import MathParseError, equivalent, parse_math

    try:
        import sympy  # noqa: F401  (checked here so a missing extra fails at load, not per item)
    except ImportError:
        raise MissingDependencyError.for_extra("sympy", "validators") from None

    parts = field_parts("math_equivalent", field)
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
    other_parts = field_parts("math_equivalent", expected_field) if expected_field else ()

    def verify(payload: Payload) -> Verdict:
        answer, missing = lookup(field, parts, payload)
        if missing is not None:
            return missing
        target = fixed
        if target is None:
            raw, missing = lookup(str(expected_field), other_parts, payload)
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
                f"field {field!r} = {short(answer)} is not equivalent to the expected value"
            )
        return Verdict.ok()

    return verify


def tool_call(field: str, tools: Sequence[Mapping[str, Any]]) -> Check:
    import json

    import jsonschema
    from jsonschema.exceptions import best_match

    parts = field_parts("tool_call", field)
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
        call, missing = lookup(field, parts, payload)
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


def pydantic_model(field: str, model: str) -> Check:
    import importlib

    from pydantic import BaseModel, ValidationError

    parts = field_parts("pydantic_model", field)
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
        value, missing = lookup(field, parts, payload)
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
