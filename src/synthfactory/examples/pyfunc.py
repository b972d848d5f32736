"""``pyfunc``: the main job. Small Python functions with tests, verified against the task.

Each item draws a task from a bank of MBPP-style tasks (``pyfunc_tasks.jsonl``: a
description, the function's name and two or three input/output examples as asserts) and
asks the ``generator`` role for the function and its tests in one fenced code block, split
by :func:`~synthfactory.recipe.parsers.python_code` into solution and tests. Then:

1. ``new_task`` (dedup, before any model call): one example per task in a dataset, so ten
   examples are ten different things and no call is spent on a repeat.
2. ``compiles`` (tier ``cheap``): solution and tests compile, the solution defines the
   function the task names, the tests assert on calls to it. Nothing runs.
3. ``examples_pass`` (tier ``grounded``): the solution runs in the sandbox against the
   task's own examples. Ground truth comes from the task, not from the model, so a
   misread task ("running sum" answered with the total) is caught even when the model's
   tests agree with its misreading.
4. ``tests_pass`` (tier ``sandbox``): the model's tests pass against its solution in the
   sandbox (a wrong test is a defect of the example too).

Canaries measure every tier while the run works (the known misreadings with the model's
agreeing tests, correct solutions, and mutants of accepted solutions); ``status`` shows
each tier's catch rate. There is no LLM judge: checked against the labelled set, the
embedded 0.5B judge passed all 11 wrong examples among the 40 it saw (``bench/README.md``);
a recipe of your own can add a ``JudgeStep`` on a stronger model, with a canary floor to hold it to.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import orjson

from synthfactory.recipe.model import Dataset, DedupStep, ModelStep, Recipe, VerifyStep
from synthfactory.recipe.parsers import python_code
from synthfactory.recipe.samplers import choice
from synthfactory.recipe.seed_data import rows
from synthfactory.verdict import Verdict
from synthfactory.verify.canaries import Canaries, Canary
from synthfactory.verify.grounded import task_examples_step
from synthfactory.verify.mutants import MutateCode, SwapAnswer
from synthfactory.verify.policy import VerificationPolicy
from synthfactory.verify.steps import SandboxStep

HERE = Path(__file__).resolve().parent
#: The task bank: one JSON object per line (id, category, task, function, examples).
TASKS_PATH = HERE / "pyfunc_tasks.jsonl"


def load_tasks(path: Path = TASKS_PATH) -> list[dict[str, Any]]:
    """The task bank's records, in file order."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


#: The answer is a fenced code block, not JSON: inside a JSON string the 0.5B model often
#: stops after the signature (see :mod:`synthfactory.recipe.parsers`). The closing fence is
#: the stop sequence, so no tokens are spent on an explanation after the code.
ANSWER_STOP = ["\n```"]


def check_code(item: dict[str, Any]) -> Verdict:
    """Tier 1: both parts compile, the solution defines the function the task names, the
    tests assert on calls to it. Nothing runs here: ``compile`` and ``ast`` only read."""
    answer = item["code"]
    name = item["task"]["function"]
    if answer["function_name"] != name:
        return Verdict.reject(f"the answer names {answer['function_name']}(), not {name}()")
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


def _task(tasks: list[dict[str, Any]], description: str) -> dict[str, Any]:
    return next(t for t in tasks if t["task"] == description)


def _canary(task: dict[str, Any], solution: str, tests: list[str]) -> dict[str, Any]:
    code = {"function_name": task["function"], "solution": solution, "tests": tests}
    return {"task": task, "style": "plain loops", "code": code}


def declared_canaries(tasks: list[dict[str, Any]]) -> tuple[Canary, ...]:
    """The misreadings the embedded model was seen to make, with the model's own (wrong)
    tests, and correct answers to the same tasks: each tier's known-bad and known-good."""
    running = _task(tasks, "return the running sum of a list of numbers")
    dedup = _task(tasks, "remove duplicates from a list, keeping the first occurrence order")
    second = _task(tasks, "return the second largest distinct number in a list")
    rs, dd, sl = running["function"], dedup["function"], second["function"]
    return (
        Canary(
            _canary(
                running,
                f"def {rs}(numbers):\n    return sum(numbers)\n",
                [f"assert {rs}([1, 2, 3]) == 6", f"assert {rs}([]) == 0"],
            ),
            bad=True,
            label="running sum answered with the total",
        ),
        Canary(
            _canary(
                dedup,
                f"def {dd}(lst):\n    return list(set(lst))\n",
                [f"assert {dd}([1, 1, 2]) == [1, 2]", f"assert {dd}([]) == []"],
            ),
            bad=True,
            label="order-keeping dedup answered with set()",
        ),
        Canary(
            _canary(
                second,
                f"def {sl}(numbers):\n    return sorted(numbers)[-2]\n",
                [f"assert {sl}([1, 2, 3]) == 2", f"assert {sl}([5, 9]) == 5"],
            ),
            bad=True,
            label="second largest, not distinct",
        ),
        Canary(
            _canary(
                running,
                f"def {rs}(numbers):\n    out, total = [], 0\n    for n in numbers:\n"
                "        total += n\n        out.append(total)\n    return out\n",
                [f"assert {rs}([1, 2, 3]) == [1, 3, 6]", f"assert {rs}([]) == []"],
            ),
            bad=False,
            label="running sum, correct",
        ),
        Canary(
            _canary(
                dedup,
                f"def {dd}(lst):\n    seen, out = set(), []\n    for x in lst:\n"
                "        if x not in seen:\n            seen.add(x)\n            out.append(x)\n"
                "    return out\n",
                [f"assert {dd}([3, 1, 3, 2, 1]) == [3, 1, 2]", f"assert {dd}([]) == []"],
            ),
            bad=False,
            label="order-keeping dedup, correct",
        ),
    )


def build_recipe(tasks_path: Path = TASKS_PATH) -> Recipe:
    """The main job over the task bank at ``tasks_path``."""
    tasks = load_tasks(tasks_path)
    return Recipe(
        name="pyfunc",
        version="3",
        description=(
            "Small Python functions with tests, checked against each task's own examples "
            "and their own tests in the sandbox; one example per task."
        ),
        samplers={
            "task": rows(tasks_path),
            "style": choice(["plain loops", "built-in functions", "clear variable names"]),
        },
        steps=(
            DedupStep(name="new_task", field="task.id", method="exact", patience=50),
            ModelStep(
                name="write",
                role="generator",
                system=(
                    "You are an expert Python programmer. You write small, correct functions "
                    "using only the standard library, and tests as plain assert statements."
                ),
                prompt=(
                    "Write a Python function named {{ task.function }} that does this: "
                    "{{ task.task }}.\nIt must pass these examples exactly:\n"
                    "{{ task.examples | join('\\n') }}\nPrefer {{ style }}.\n"
                    "Answer with one Python code block: the complete function (with any "
                    "imports it needs), then 3 to 5 assert statements at top level, each "
                    "calling {{ task.function }} on a new concrete input and comparing with "
                    "the exact expected output."
                ),
                parse=python_code,
                output="code",
                params={"temperature": 0.4, "max_tokens": 400, "stop": ANSWER_STOP},
            ),
            VerifyStep(name="compiles", fn=check_code, tier="cheap"),
            task_examples_step("examples_pass", code="code.solution", examples="task.examples"),
            SandboxStep(
                name="tests_pass",
                code="{{ code.solution }}\n\n{{ code.tests | join('\\n') }}\n",
                timeout_s=5.0,
            ),
        ),
        policy=VerificationPolicy(sample_rate=1.0),
        canaries=Canaries(
            items=declared_canaries(tasks),
            mutators=(
                MutateCode("code.solution"),
                SwapAnswer(field="code.solution", name="task.function", task="task.id"),
            ),
            rate=0.5,
            # The grounded tier is what makes an example right: it must catch most known-bad
            # answers. The model's own tests are measured and shown, not held to a floor:
            # they share the model's reading of the task (the declared misreadings pass
            # them by construction), and their job here is to be consistent with the code.
            floors={"grounded": 0.8},
            min_count=10,
        ),
        dataset=Dataset(name="pyfunc", fields=("task", "style", "code")),
    )


recipe = build_recipe()
