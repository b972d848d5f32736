"""Tier-1 validators beyond the basics: each passes good input and fails broken variants."""

from __future__ import annotations

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
