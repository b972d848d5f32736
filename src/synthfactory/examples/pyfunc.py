"""``pyfunc``: the main job. Small Python functions with tests, verified by running them.

Each item samples a task from a small taxonomy, asks the ``generator`` role for a function
and its tests as structured JSON, checks cheaply that both compile and that the tests call
the function (tier 1), then runs solution and tests together in the hardened sandbox
(tier 2); finally the ``judge`` role reads task and code together (tier 3), since tests
written by the same model can agree with a wrong solution.
"""

from __future__ import annotations

import ast
from typing import Any

from synthfactory.recipe.model import (
    Dataset,
    JudgeStep,
    ModelStep,
    Recipe,
    SandboxStep,
    VerificationPolicy,
    VerifyStep,
)
from synthfactory.recipe.samplers import choice
from synthfactory.verdict import Verdict

#: (category, task) pairs: small enough for a 0.5B model, varied enough to be useful.
TAXONOMY = (
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

CODE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "function_name": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"},
        "task": {"type": "string", "minLength": 10},
        "solution": {"type": "string", "pattern": "^def ", "minLength": 10},
        # One assert per entry: constrained decoding then writes real assert statements.
        "tests": {
            "type": "array",
            "items": {"type": "string", "pattern": "^assert "},
            "minItems": 2,
            "maxItems": 5,
        },
    },
    "required": ["function_name", "task", "solution", "tests"],
    "additionalProperties": False,
}


def check_code(item: dict[str, Any]) -> Verdict:
    """Tier 1: both parts compile, the solution defines the function, the tests assert on it.

    Nothing runs here: ``compile`` and ``ast`` only read the code.
    """
    answer = item["code"]
    name = answer["function_name"]
    parts = {"solution": answer["solution"], "tests": "\n".join(answer["tests"])}
    for part, source in parts.items():
        try:
            compile(source, f"<{part}>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as err:
            return Verdict.reject(f"{part} does not compile: {err}")
    solution = ast.parse(parts["solution"])
    defined = {n.name for n in ast.walk(solution) if isinstance(n, ast.FunctionDef)}
    if name not in defined:
        return Verdict.reject(f"the solution does not define {name}()")
    tests = ast.parse(parts["tests"])
    asserts = [n for n in ast.walk(tests) if isinstance(n, ast.Assert)]
    calls = {
        n.func.id
        for a in asserts
        for n in ast.walk(a)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    if len(asserts) < 2:
        return Verdict.reject(f"the tests have {len(asserts)} assert(s); at least 2 are needed")
    if name not in calls:
        return Verdict.reject(f"no test asserts on a call to {name}()")
    return Verdict.ok()


recipe = Recipe(
    name="pyfunc",
    version="1",
    description="Small Python functions with tests; kept only if the tests pass in the sandbox.",
    samplers={
        "task": choice([task for _, task in TAXONOMY]),
        "style": choice(["plain loops", "built-in functions", "clear variable names"]),
    },
    steps=(
        ModelStep(
            name="write",
            role="generator",
            system=(
                "You are an expert Python programmer. You write small, correct functions "
                "using only the standard library, and tests as plain assert statements. "
                "Answer in JSON."
            ),
            prompt=(
                "Write a Python function that does this: {{ task }}. Prefer {{ style }}.\n"
                "Give: function_name (snake_case); task (one sentence); solution (the "
                "complete function definition, nothing else); tests (a list of 3 to 5 "
                "assert statements, each calling the function on a concrete input and "
                "comparing with the exact expected output)."
            ),
            schema=CODE_SCHEMA,
            output="code",
            params={"temperature": 0.4, "max_tokens": 400},
        ),
        VerifyStep(name="compiles", fn=check_code, tier="cheap"),
        SandboxStep(
            name="tests_pass",
            code="{{ code.solution }}\n\n{{ code.tests | join('\\n') }}\n",
            timeout_s=5.0,
        ),
        # Tests written by the same model can agree with a wrong solution; the judge reads
        # the task and the code together.
        JudgeStep(
            name="solves_task",
            rubric=(
                "Task: {{ task }}\n\nSolution:\n{{ code.solution }}\n\nTests:\n"
                "{{ code.tests | join('\\n') }}\n\nDoes the solution do exactly what the "
                "task asks, for all inputs, and do the tests check it? Score 10 if fully "
                "correct, 1 if it does something else."
            ),
            threshold=5,
        ),
    ),
    policy=VerificationPolicy(sample_rate=1.0),
    dataset=Dataset(name="pyfunc", fields=("task", "style", "code")),
)
