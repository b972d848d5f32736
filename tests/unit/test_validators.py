"""Tier-1 validators beyond the basics: each passes good input and fails broken variants."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any

import pytest
from pydantic import BaseModel

from synthfactory.errors import RecipeError
from synthfactory.verify.checks import build_check
from synthfactory.verify.mathexpr import MathParseError, parse_math


class Person(BaseModel):
    name: str
    age: int


def _status(check: str, options: dict[str, Any], payload: dict[str, Any]) -> str:
    return build_check(check, options)(payload).status  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "good", ["x = 1\n", "def f(a):\n    return a * 2\n", "for i in range(3):\n    break\n"]
)
def test_python_compiles_passes_valid_code(good: str) -> None:
    assert _status("python_compiles", {"field": "code"}, {"code": good}) == "pass"


@pytest.mark.parametrize(
    "bad",
    ["return 1\n", "break\n", "def f(:\n  pass", "x = = 1", "nonlocal x\n", "\0", 3],
)
def test_python_compiles_fails_broken_code(bad: Any) -> None:
    assert _status("python_compiles", {"field": "code"}, {"code": bad}) == "fail"


def test_python_compiles_does_not_run_the_code(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x')\n"
    assert _status("python_compiles", {"field": "code"}, {"code": code}) == "pass"
    assert not marker.exists()


@pytest.mark.parametrize(
    "good",
    [
        "SELECT a, b FROM t WHERE a > 1",
        "select count(*) from users group by country;",
        "WITH x AS (SELECT 1 AS v) SELECT v FROM x",
    ],
)
def test_sql_parses_passes_valid_sql(good: str) -> None:
    assert _status("sql_parses", {"field": "sql"}, {"sql": good}) == "pass"


@pytest.mark.parametrize(
    "bad",
    [
        "SELECT FROM WHERE",
        "SELECT (a FROM t",
        "SELECT a FROM t WHERE",
        "",
        "   ",
        42,
        "INSERT INTO VALUES",
    ],
)
def test_sql_parses_fails_broken_sql(bad: Any) -> None:
    assert _status("sql_parses", {"field": "sql"}, {"sql": bad}) == "fail"


def test_sql_parses_rejects_an_unknown_dialect() -> None:
    with pytest.raises(RecipeError, match="dialect"):
        build_check("sql_parses", {"field": "sql", "dialect": "no-such-sql"})


SHOP = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
                     quantity INTEGER NOT NULL);
"""


def _plans(sql: Any, **options: Any) -> Any:
    return build_check("sql_plans", {"field": "sql", "schema": SHOP, **options})({"sql": sql})


@pytest.mark.parametrize(
    "good",
    [
        "SELECT COUNT(*) FROM customers",
        "select c.name, sum(o.quantity) from customers c join orders o "
        "on o.customer_id = c.id group by c.id order by 2 desc limit 1;",
        "WITH big AS (SELECT customer_id FROM orders WHERE quantity > 1) "
        "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM big)",
        "  -- a comment first\nSELECT DISTINCT country FROM customers /* and after */",
        "VALUES (1), (2)",
    ],
)
def test_sql_plans_passes_queries_that_fit_the_schema(good: str) -> None:
    verdict = _plans(good)
    assert verdict.status == "pass", verdict.reason


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        # The query: the parse tier passed it, the sandbox tier never ran it.
        ("SELECT o.category FROM orders o", "no such column: o.category"),
        ("SELECT name FROM buyers", "no such table: buyers"),
        (
            "SELECT name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE id = 1",
            "ambiguous column name: id",
        ),
        ("SELECT SUM(COUNT(*)) FROM orders", "misuse of aggregate"),
        ("SELECT no_such_function(name) FROM customers", "no such function"),
        ("SELECT name FROM customers WHERE", "incomplete input"),
        ("SELECT name FROM FROM customers", "syntax error"),
        ("", "not a non-empty SQL string"),
        (42, "not a non-empty SQL string"),
    ],
)
def test_sql_plans_rejects_queries_that_do_not_fit_the_schema(bad: Any, reason: str) -> None:
    verdict = _plans(bad)
    assert verdict.status == "fail"
    assert reason in verdict.reason


@pytest.mark.parametrize(
    "write",
    [
        "INSERT INTO customers VALUES (9, 'Eve', 'US')",
        "UPDATE customers SET name = 'Eve'",
        "DELETE FROM customers",
        "DROP TABLE customers",
        "WITH x AS (SELECT 1) DELETE FROM customers",
        "WITH x AS (SELECT 1) INSERT INTO customers SELECT 9, 'Eve', 'US' FROM x",
        "SELECT 1; DROP TABLE customers",
        "PRAGMA table_info(customers)",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "VACUUM INTO '/tmp/x.db'",
        "EXPLAIN SELECT 1",
    ],
)
def test_sql_plans_refuses_anything_but_one_read_only_query(write: str) -> None:
    verdict = _plans(write)
    assert verdict.status == "fail"
    assert "read-only" in verdict.reason or "single statement" in verdict.reason


def test_sql_parses_is_the_negative_control_it_passes_what_sql_plans_rejects() -> None:
    # Parsing alone cannot know the schema: the broken query parses fine.
    broken = {"sql": "SELECT SUM(o.quantity) FROM orders o WHERE o.category = 'keyboards'"}
    assert build_check("sql_parses", {"field": "sql", "dialect": "sqlite"})(broken).passed
    assert _plans(broken["sql"]).status == "fail"


def test_sql_plans_runs_nothing() -> None:
    # An endless recursive query is only planned, so the check returns at once.
    forever = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"
    started = time.perf_counter()
    assert _plans(forever).passed
    assert time.perf_counter() - started < 1.0


def test_sql_plans_reads_only_the_schema_of_a_database_file(tmp_path: Any) -> None:
    path = tmp_path / "shop.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(SHOP + "INSERT INTO customers VALUES (1, 'Ada', 'UK');")
        db.commit()
    check = build_check("sql_plans", {"field": "sql", "database": str(path)})
    assert check({"sql": "SELECT name FROM customers"}).passed  # type: ignore[union-attr]
    assert check({"sql": "SELECT nam FROM customers"}).status == "fail"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({}, "schema"),
        ({"schema": SHOP, "database": "x.sqlite"}, "schema"),
        ({"schema": "CREATE TABLE ("}, "schema"),
        ({"database": "/no/such/file.sqlite"}, "database"),
        ({"schema": SHOP, "max_length": 0}, "max_length"),
    ],
)
def test_sql_plans_refuses_bad_options(options: dict[str, Any], option: str) -> None:
    with pytest.raises(RecipeError) as info:
        build_check("sql_plans", {"field": "sql", **options})
    assert info.value.fields["option"] == option


def test_sql_plans_refuses_overlong_sql() -> None:
    verdict = _plans("SELECT 1" + " " * 50, max_length=20)
    assert verdict.status == "fail"
    assert "longer than 20" in verdict.reason


@pytest.mark.parametrize(
    ("answer", "expected", "status"),
    [
        ("2x^2 + 2x", "2*x*(x+1)", "pass"),
        ("1/2", "0.5", "pass"),
        ("sqrt(8)", "2*sqrt(2)", "pass"),
        ("sin(x)^2 + cos(x)^2", "1", "pass"),
        ("x + 1", "x + 2", "fail"),
        ("2x^2", "2x^3", "fail"),
        ("0.333", "1/3", "fail"),
        ("__import__('os').system('true')", "1", "fail"),
        ("x.real", "x", "fail"),
    ],
)
def test_math_equivalent(answer: str, expected: str, status: str) -> None:
    assert _status("math_equivalent", {"field": "a", "expected": expected}, {"a": answer}) == status


def test_math_equivalent_against_another_field() -> None:
    check = build_check("math_equivalent", {"field": "a", "expected_field": "gold"})
    assert check({"a": "(x+1)^2", "gold": "x^2 + 2x + 1"}).status == "pass"  # type: ignore[union-attr]
    assert check({"a": "(x+1)^2", "gold": "x^2 + 1"}).status == "fail"  # type: ignore[union-attr]


def test_math_parser_refuses_code_and_bombs() -> None:
    for text in ("lambda: 1", "[1, 2]", "open('f')", "a if b else c", "x" * 600):
        with pytest.raises(MathParseError):
            parse_math(text)
    with pytest.raises(MathParseError, match="too expensive"):
        parse_math("9^9^9^9")


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer", "minimum": 1},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {"name": "noop"},
]


@pytest.mark.parametrize(
    ("call", "status"),
    [
        ({"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}, "pass"),
        ({"name": "get_weather", "arguments": '{"city": "Oslo"}'}, "pass"),
        (
            {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "X"}'}},
            "pass",
        ),
        ({"name": "noop", "arguments": {}}, "pass"),
        ({"name": "get_weather", "arguments": {"days": 3}}, "fail"),
        ({"name": "get_weather", "arguments": {"city": "Oslo", "days": 0}}, "fail"),
        ({"name": "get_weather", "arguments": {"city": "Oslo", "extra": 1}}, "fail"),
        ({"name": "get_weather", "arguments": "{not json"}, "fail"),
        ({"name": "launch_rockets", "arguments": {}}, "fail"),
        ("get_weather(Oslo)", "fail"),
    ],
)
def test_tool_call_arguments_against_the_tool_schema(call: Any, status: str) -> None:
    assert _status("tool_call", {"field": "call", "tools": TOOLS}, {"call": call}) == status


def test_tool_call_refuses_a_bad_tool_list() -> None:
    with pytest.raises(RecipeError):
        build_check("tool_call", {"field": "call", "tools": [{"parameters": {}}]})
    with pytest.raises(RecipeError):
        build_check(
            "tool_call", {"field": "call", "tools": [{"name": "x", "parameters": {"type": "nope"}}]}
        )


def test_pydantic_model() -> None:
    options = {"field": "p", "model": f"{__name__}:Person"}
    assert _status("pydantic_model", options, {"p": {"name": "Ada", "age": 36}}) == "pass"
    assert _status("pydantic_model", options, {"p": {"name": "Ada"}}) == "fail"
    assert _status("pydantic_model", options, {"p": {"name": "Ada", "age": "old"}}) == "fail"
    with pytest.raises(RecipeError, match="cannot import"):
        build_check("pydantic_model", {"field": "p", "model": "no.such:Thing"})
