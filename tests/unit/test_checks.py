"""The built-in checks: each one passes good payloads and fails broken ones, with a reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from synthfactory.errors import RecipeError
from synthfactory.verdict import Verdict
from synthfactory.verify import checks
from synthfactory.verify.checks import CHECKS, build_check, get_path


def run(name: str, payload: Mapping[str, Any], **options: Any) -> Verdict:
    verdict = build_check(name, options)(dict(payload))
    assert isinstance(verdict, Verdict)
    return verdict


def test_public_names() -> None:
    assert sorted(checks.__all__) == ["CHECKS", "CheckFactory", "build_check", "get_path"]


def test_checks_mapping_is_read_only_and_complete() -> None:
    assert set(CHECKS) == {
        "nonempty",
        "length",
        "regex",
        "json_schema",
        "contains",
        "one_of",
        "python_syntax",
        "python_compiles",
        "sql_parses",
        "sql_plans",
        "math_equivalent",
        "tool_call",
        "pydantic_model",
    }
    with pytest.raises(TypeError):
        CHECKS["mine"] = CHECKS["nonempty"]  # type: ignore[index]


# --- get_path


def test_get_path_walks_nested_mappings() -> None:
    payload = {"a": {"b": {"c": 3}}, "top": "x"}
    assert get_path(payload, "a.b.c") == 3
    assert get_path(payload, "top") == "x"
    assert get_path(payload, "a.b") == {"c": 3}


@pytest.mark.parametrize(
    ("payload", "dotted", "missing"),
    [
        ({"a": {"b": {}}}, "a.b.c", "c"),
        ({"a": {}}, "a.b.c", "b"),
        ({}, "a", "a"),
        ({"a": "text"}, "a.b", "b"),  # under a str, not a mapping
    ],
)
def test_get_path_raises_keyerror_naming_the_missing_part(
    payload: dict[str, Any], dotted: str, missing: str
) -> None:
    with pytest.raises(KeyError) as info:
        get_path(payload, dotted)
    assert info.value.args[0] == missing


# --- pass and fail for every check (negative controls first-class)

PASSING: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("nonempty", {"field": "a"}, {"a": "x"}),
    ("nonempty", {"field": "a.b"}, {"a": {"b": [1]}}),
    ("nonempty", {"field": "a"}, {"a": 0}),  # a number is present, even zero
    ("length", {"field": "a", "min": 1, "max": 3}, {"a": "abc"}),
    ("length", {"field": "a", "min": 2}, {"a": [1, 2]}),
    ("length", {"field": "a", "max": 0}, {"a": ""}),
    ("regex", {"field": "a", "pattern": r"\d+"}, {"a": "answer 42"}),
    ("regex", {"field": "a", "pattern": r"\d+", "fullmatch": True}, {"a": "42"}),
    (
        "json_schema",
        {"field": "a", "schema": {"type": "object", "required": ["x"]}},
        {"a": {"x": 1}},
    ),
    ("json_schema", {"field": "a", "schema": {"type": "integer", "minimum": 0}}, {"a": 3}),
    ("contains", {"field": "a", "value": "Lava"}, {"a": "hot lava flows"}),
    ("contains", {"field": "a", "value": "Lava", "case_sensitive": True}, {"a": "Lava!"}),
    ("one_of", {"field": "a", "values": ["easy", "hard"]}, {"a": "hard"}),
    ("one_of", {"field": "a", "values": [1, 2]}, {"a": 2}),
    ("python_syntax", {"field": "a"}, {"a": "def f(x):\n    return x + 1\n"}),
    ("python_syntax", {"field": "a"}, {"a": ""}),
]

FAILING: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("nonempty", {"field": "a"}, {"a": ""}, "empty"),
    ("nonempty", {"field": "a"}, {"a": "  \n\t"}, "whitespace"),
    ("nonempty", {"field": "a"}, {"a": None}, "null"),
    ("nonempty", {"field": "a"}, {"a": []}, "empty list"),
    ("nonempty", {"field": "a"}, {"a": {}}, "empty dict"),
    ("nonempty", {"field": "a.b"}, {"a": {}}, "no 'b'"),
    ("length", {"field": "a", "min": 1}, {"a": ""}, "below the minimum 1"),
    ("length", {"field": "a", "max": 3}, {"a": "abcd"}, "above the maximum 3"),
    ("length", {"field": "a", "min": 3}, {"a": [1]}, "length 1"),
    ("length", {"field": "a", "min": 1}, {"a": 12}, "not a string or list"),
    ("length", {"field": "a", "min": 1}, {"b": "x"}, "no 'a'"),
    ("regex", {"field": "a", "pattern": r"\d+"}, {"a": "no digits"}, "does not match"),
    ("regex", {"field": "a", "pattern": r"\d+", "fullmatch": True}, {"a": "42x"}, "whole"),
    ("regex", {"field": "a", "pattern": "x"}, {"a": 5}, "not a string"),
    (
        "json_schema",
        {"field": "a", "schema": {"type": "object", "required": ["x"]}},
        {"a": {"y": 1}},
        "'x' is a required property",
    ),
    (
        "json_schema",
        {"field": "a", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        {"a": {"n": "three"}},
        "at 'n'",
    ),
    ("json_schema", {"field": "a", "schema": {"type": "integer"}}, {}, "missing"),
    ("contains", {"field": "a", "value": "lava"}, {"a": "hot rock"}, "does not contain 'lava'"),
    (
        "contains",
        {"field": "a", "value": "Lava", "case_sensitive": True},
        {"a": "lava"},
        "does not contain",
    ),
    ("contains", {"field": "a", "value": "x"}, {"a": ["x"]}, "not a string"),
    ("one_of", {"field": "a", "values": ["easy", "hard"]}, {"a": "medium"}, "not one of"),
    ("one_of", {"field": "a", "values": ["easy"]}, {"a": None}, "None"),
    ("python_syntax", {"field": "a"}, {"a": "def f(:\n  pass"}, "not valid Python: line 1"),
    ("python_syntax", {"field": "a"}, {"a": "x = (\n"}, "not valid Python"),
    ("python_syntax", {"field": "a"}, {"a": "x = '\0'\0"}, "not valid Python"),
    ("python_syntax", {"field": "a"}, {"a": b"x = 1"}, "not a string"),
]


@pytest.mark.parametrize(("name", "options", "payload"), PASSING)
def test_check_passes(name: str, options: dict[str, Any], payload: dict[str, Any]) -> None:
    verdict = run(name, payload, **options)
    assert verdict.passed, verdict.reason


@pytest.mark.parametrize(("name", "options", "payload", "reason"), FAILING)
def test_check_fails_with_a_reason(
    name: str, options: dict[str, Any], payload: dict[str, Any], reason: str
) -> None:
    verdict = run(name, payload, **options)
    assert verdict.status == "fail"
    assert reason in verdict.reason
    # every reason names the field it looked at
    assert repr(options["field"]) in verdict.reason


def test_every_check_has_a_passing_and_a_failing_case() -> None:
    # The later checks have their cases in test_validators.py.
    later = {
        "python_compiles",
        "sql_parses",
        "sql_plans",
        "math_equivalent",
        "tool_call",
        "pydantic_model",
    }
    assert {case[0] for case in PASSING} == set(CHECKS) - later
    assert {case[0] for case in FAILING} == set(CHECKS) - later


def test_missing_intermediate_part_is_a_fail_verdict_naming_it() -> None:
    verdict = run("nonempty", {"fact": "flat text"}, field="fact.text")
    assert verdict.status == "fail"
    assert "'fact' is a str, not a mapping" in verdict.reason
    verdict = run("regex", {"fact": {}}, field="fact.text", pattern="x")
    assert "'fact' has no 'text'" in verdict.reason


def test_non_mapping_payload_is_a_fail_not_an_exception() -> None:
    verify = build_check("nonempty", {"field": "a"})
    verdict = verify(["not", "a", "dict"])  # type: ignore[arg-type]
    assert isinstance(verdict, Verdict)
    assert verdict.status == "fail"
    assert "the payload is a list, not a mapping" in verdict.reason


def test_python_syntax_never_runs_the_code(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit(3)\n"
    assert run("python_syntax", {"a": source}, field="a").passed
    assert not marker.exists()


def test_checks_are_reusable_and_independent() -> None:
    short = build_check("length", {"field": "a", "max": 2})
    long = build_check("length", {"field": "a", "min": 5})
    payload = {"a": "abc"}
    assert short(payload) == Verdict.reject("field 'a' has length 3, above the maximum 2")
    assert long(payload) == Verdict.reject("field 'a' has length 3, below the minimum 5")
    assert short({"a": "ab"}) == Verdict.ok()


def test_verifier_name_spells_its_options() -> None:
    # The recipe digest names verifier functions; different options must name differently.
    a = build_check("length", {"field": "a", "max": 2})
    b = build_check("length", {"field": "a", "max": 3})
    assert a.__qualname__ != b.__qualname__
    assert a.__qualname__ == "length(field='a', max=2)"


# --- bad options are RecipeErrors at build time


@pytest.mark.parametrize(
    ("name", "options", "option", "fragment"),
    [
        ("length", {"field": "a", "mn": 1}, "mn", "allowed options: field, min, max"),
        ("nonempty", {"field": "a", "strip": True}, "strip", "allowed options: field"),
        ("regex", {"field": "a", "pattern": "x", "flags": "i"}, "flags", "fullmatch"),
        ("contains", {"field": "a", "value": "x", "case": 1}, "case", "case_sensitive"),
        ("one_of", {"field": "a", "value": ["x"]}, "value", "allowed options: field, values"),
        ("json_schema", {"field": "a", "schema": {}, "draft": 7}, "draft", "schema"),
        ("python_syntax", {"field": "a", "mode": "exec"}, "mode", "allowed options: field"),
    ],
)
def test_unknown_option_names_check_and_allowed_options(
    name: str, options: dict[str, Any], option: str, fragment: str
) -> None:
    with pytest.raises(RecipeError) as info:
        build_check(name, options)
    message = str(info.value)
    assert f"check {name!r}" in message
    assert f"unknown option {option!r}" in message
    assert fragment in message
    assert info.value.fields["option"] == option


@pytest.mark.parametrize(
    ("name", "options", "option", "fragment"),
    [
        ("regex", {"field": "a", "pattern": "("}, "pattern", "invalid pattern '('"),
        ("regex", {"field": "a", "pattern": "[a-"}, "pattern", "invalid pattern"),
        ("regex", {"field": "a", "pattern": 3}, "pattern", "must be a string"),
        ("regex", {"field": "a", "pattern": "x", "fullmatch": "yes"}, "fullmatch", "true or false"),
        ("length", {"field": "a"}, "min", "give 'min', 'max' or both"),
        ("length", {"field": "a", "min": 5, "max": 2}, "min", "above max"),
        ("length", {"field": "a", "min": -1}, "min", "whole number >= 0"),
        ("length", {"field": "a", "max": True}, "max", "whole number"),
        ("length", {"field": "a", "max": "10"}, "max", "whole number"),
        (
            "json_schema",
            {"field": "a", "schema": {"type": "strng"}},
            "schema",
            "invalid JSON schema",
        ),
        ("json_schema", {"field": "a", "schema": ["x"]}, "schema", "must be a mapping"),
        ("contains", {"field": "a", "value": ""}, "value", "non-empty string"),
        ("contains", {"field": "a", "value": "x", "case_sensitive": 1}, "case_sensitive", "true"),
        ("one_of", {"field": "a", "values": []}, "values", "non-empty list"),
        ("one_of", {"field": "a", "values": "ab"}, "values", "non-empty list"),
        ("nonempty", {"field": ""}, "field", "dotted path"),
        ("nonempty", {"field": "a..b"}, "field", "dotted path"),
        ("nonempty", {"field": 3}, "field", "dotted path"),
    ],
)
def test_bad_option_values_are_recipe_errors(
    name: str, options: dict[str, Any], option: str, fragment: str
) -> None:
    with pytest.raises(RecipeError) as info:
        build_check(name, options)
    assert fragment in str(info.value)
    assert info.value.fields["option"] == option


def test_missing_required_option() -> None:
    with pytest.raises(RecipeError, match="check 'regex': missing required option 'pattern'"):
        build_check("regex", {"field": "a"})
    with pytest.raises(RecipeError, match="missing required option 'field'"):
        build_check("nonempty", {})


def test_unknown_check_lists_the_known_ones() -> None:
    with pytest.raises(RecipeError) as info:
        build_check("lenght", {"field": "a"})
    message = str(info.value)
    assert "unknown check 'lenght'" in message
    for name in CHECKS:
        assert name in message
    assert info.value.fields["option"] == "check"


def test_factories_in_checks_mapping_refuse_bad_options_directly() -> None:
    with pytest.raises(RecipeError, match="unknown option 'mn'"):
        CHECKS["length"](field="a", mn=1)
