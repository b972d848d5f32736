"""The ``pyfunc`` task bank: well-formed tasks whose examples are literal, checkable asserts."""

from __future__ import annotations

import ast
import builtins
import json
import keyword
from collections import Counter
from importlib import resources
from typing import Any

import pytest

#: The 20 tasks of the first ``pyfunc`` taxonomy: stored rows name them by this exact text.
LEGACY = (
    ("strings", "reverse a string"),
    ("strings", "count the vowels in a string"),
    ("strings", "check whether a string is a palindrome, ignoring case"),
    ("strings", "capitalize the first letter of every word in a sentence"),
    ("strings", "check whether two strings are anagrams of each other"),
    ("strings", "count how many words a sentence has"),
    ("numbers", "check whether a number is prime"),
    ("numbers", "return the sum of the digits of a non-negative integer"),
    ("numbers", "return the factorial of a non-negative integer"),
    ("numbers", "return the n-th Fibonacci number, with fib(0) = 0 and fib(1) = 1"),
    ("numbers", "return the greatest common divisor of two positive integers"),
    ("numbers", "convert a temperature from Celsius to Fahrenheit"),
    ("numbers", "convert a binary string such as '101' to an integer"),
    ("lists", "return the largest number in a non-empty list"),
    ("lists", "remove duplicates from a list, keeping the first occurrence order"),
    ("lists", "return the running sum of a list of numbers"),
    ("lists", "merge two sorted lists into one sorted list"),
    ("lists", "flatten a list of lists by one level"),
    ("lists", "return the second largest distinct number in a list"),
    ("lists", "count how often each element occurs, as a dict"),
)


def _bank() -> list[dict[str, Any]]:
    text = (resources.files("synthfactory.examples") / "pyfunc_tasks.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


BANK = _bank()


def test_the_bank_is_large_with_unique_ids_equal_to_function_names() -> None:
    assert len(BANK) >= 110
    ids = [t["id"] for t in BANK]
    assert len(set(ids)) == len(ids), [i for i, n in Counter(ids).items() if n > 1]
    for task in BANK:
        assert set(task) == {"id", "category", "task", "function", "examples"}, task
        name = task["function"]
        assert task["id"] == name
        assert name.isidentifier() and not keyword.iskeyword(name), name
        assert not hasattr(builtins, name), f"{name} shadows a builtin"
        assert name == name.lower()


def test_descriptions_are_one_lower_case_sentence() -> None:
    descriptions = [t["task"] for t in BANK]
    assert len(set(descriptions)) == len(descriptions)
    for text in descriptions:
        assert text and text[0].islower(), text
        assert "\n" not in text and not text.endswith("."), text


def test_the_legacy_tasks_are_there_word_for_word_with_their_category() -> None:
    pairs = {(t["category"], t["task"]) for t in BANK}
    assert [p for p in LEGACY if p not in pairs] == []


def test_at_least_eight_categories_of_at_least_eight_tasks() -> None:
    sizes = Counter(t["category"] for t in BANK)
    big = {c: n for c, n in sizes.items() if n >= 8}
    assert len(big) >= 8, sizes
    assert big == dict(sizes), f"categories with fewer than 8 tasks: {sizes}"


def _call_of(test: ast.expr, name: str) -> ast.Call:
    """The call to ``name`` an example compares: directly, or inside ``round(...)``."""
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name):
        if test.func.id == name:
            return test
        if test.func.id == "round" and test.args:
            return _call_of(test.args[0], name)
    raise AssertionError(f"the example does not compare a call to {name}(): {ast.unparse(test)}")


@pytest.mark.parametrize("task", BANK, ids=[t["id"] for t in BANK])
def test_examples_are_literal_asserts_on_the_function(task: dict[str, Any]) -> None:
    examples = task["examples"]
    assert 2 <= len(examples) <= 3
    assert len(set(examples)) == len(examples)
    calls = []
    for example in examples:
        assert "\n" not in example
        module = ast.parse(example)
        assert len(module.body) == 1, example
        statement = module.body[0]
        assert isinstance(statement, ast.Assert) and statement.msg is None, example
        compare = statement.test
        assert isinstance(compare, ast.Compare), example
        assert len(compare.ops) == 1 and isinstance(compare.ops[0], ast.Eq), example
        ast.literal_eval(compare.comparators[0])  # the expected value is a literal
        call = _call_of(compare.left, task["function"])
        assert not call.keywords, example
        calls.append(tuple(ast.literal_eval(arg) for arg in call.args))
    assert len(set(map(repr, calls))) == len(calls), "two examples make the same call"
