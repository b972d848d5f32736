"""The labels of the ``pyfunc`` bank (``bench/labels``) and the checker that uses them
(``bench/check_pyfunc.py``), with negative controls run in the real sandbox."""

from __future__ import annotations

import ast
import inspect
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synthfactory.sandbox import SandboxPool, detect_isolation
from synthfactory.store.lance import LanceStore

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is not a package of the library: import it from here
    sys.path.insert(0, str(ROOT))

from bench.check_pyfunc import (  # noqa: E402  (needs the path above)
    RowCheck,
    check_payload,
    check_payloads,
    load_bank,
    main,
    summarize,
    wilson,
)
from bench.labels.pyfunc_reference import PROBES, REFERENCES  # noqa: E402  (same)

#: Slot uids of this module's pools: apart from the sandbox tests' and a run's.
UID_BASE = 1_900_340

BANK = load_bank()
BY_ID = {t["id"]: t for t in BANK}


def _example_args(task: dict[str, Any]) -> list[tuple[Any, ...]]:
    found = []
    for example in task["examples"]:
        for node in ast.walk(ast.parse(example)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == task["function"]:
                found.append(tuple(ast.literal_eval(a) for a in node.args))
    return found


def test_labels_cover_exactly_the_bank() -> None:
    ids = {t["id"] for t in BANK}
    assert set(REFERENCES) == ids
    assert set(PROBES) == ids
    for task_id, reference in REFERENCES.items():
        assert reference.__name__ == f"ref_{task_id}"


@pytest.mark.parametrize("task", BANK, ids=[t["id"] for t in BANK])
def test_every_example_holds_for_the_reference(task: dict[str, Any]) -> None:
    namespace = {task["function"]: REFERENCES[task["id"]]}
    for example in task["examples"]:
        exec(compile(example, "<example>", "exec"), namespace)  # trusted: the bank's own


@pytest.mark.parametrize("task", BANK, ids=[t["id"] for t in BANK])
def test_probes_are_new_inputs_the_reference_answers(task: dict[str, Any]) -> None:
    probes = PROBES[task["id"]]
    assert len(probes) >= 6
    assert all(isinstance(p, tuple) for p in probes)
    assert len({repr(p) for p in probes}) == len(probes), "a probe is repeated"
    shown = {repr(a) for a in _example_args(task)}
    assert [p for p in probes if repr(p) in shown] == [], "a probe is a shown example"
    # The reference's source runs on its own (it is shipped into the sandbox like this).
    namespace: dict[str, Any] = {}
    source = "from __future__ import annotations\n" + inspect.getsource(REFERENCES[task["id"]])
    exec(compile(source, "<reference>", "exec"), namespace)
    standalone = namespace[f"ref_{task['id']}"]
    for args in probes:
        assert standalone(*args) == REFERENCES[task["id"]](*args)


def test_wilson_interval() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)


# --- the checker against the real sandbox ------------------------------------------------


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    """A small hardened pool for this module; skipped where the host cannot run one."""
    report = detect_isolation(uid=UID_BASE)
    if not report.meets_minimum:
        pytest.skip(f"host lacks {report.unmet()}: {report.missing}")
    with SandboxPool(2, uid_base=UID_BASE, jobs_per_slot=100) as p:
        yield p


def _renamed_reference(task_id: str, name: str) -> str:
    source = inspect.getsource(REFERENCES[task_id])
    return source.replace(f"def ref_{task_id}(", f"def {name}(", 1)


def _old(task_id: str, solution: str, tests: list[str], name: str | None = None) -> dict[str, Any]:
    """A row as the first ``pyfunc`` stored it: the task as its description."""
    task = BY_ID[task_id]
    code = {
        "function_name": name or task["function"],
        "task": "(the model's restatement)",
        "solution": solution,
        "tests": tests,
    }
    return {"item_id": f"old-{task_id}", "task": task["task"], "style": "plain loops", "code": code}


def _new(task_id: str, solution: str, tests: list[str], item_id: str = "") -> dict[str, Any]:
    """A row as the bank-based ``pyfunc`` stores it: the task as its bank record."""
    task = BY_ID[task_id]
    code = {
        "function_name": task["function"],
        "task": "(the model's restatement)",
        "solution": solution,
        "tests": tests,
    }
    return {"item_id": item_id or f"new-{task_id}", "task": dict(task), "code": code}


CORRECT = ["running_sum", "remove_duplicates", "second_largest", "day_of_week", "transpose"]


def test_correct_solutions_are_judged_ok_in_both_shapes(pool: SandboxPool) -> None:
    payloads = []
    for task_id in CORRECT:
        task = BY_ID[task_id]
        solution = _renamed_reference(task_id, task["function"])
        payloads.append(_new(task_id, solution, list(task["examples"])))
    # The old shape: the description maps to the bank, the model named the function itself.
    legacy = BY_ID["running_sum"]
    renamed = [e.replace("running_sum(", "prefix_sums(") for e in legacy["examples"]]
    payloads.append(
        _old(
            "running_sum", _renamed_reference("running_sum", "prefix_sums"), renamed, "prefix_sums"
        )
    )
    checks = check_payloads(payloads, pool)
    assert [(c.ok, c.solution_ok, c.tests_ok) for c in checks] == [(True, True, True)] * 6, checks
    assert [c.task_id for c in checks] == [*CORRECT, "running_sum"]


def test_known_wrong_solutions_are_defects(pool: SandboxPool) -> None:
    rows = {
        # the misreading behind most of the baseline's defects: the total, not running sums
        "total": _old(
            "running_sum",
            "def running_sum(numbers):\n    return sum(numbers)\n",
            ["assert running_sum([1, 2, 3]) == 6", "assert running_sum([]) == 0"],
        ),
        # a set loses the order; its tests happen to be true of the task
        "set": _new(
            "remove_duplicates",
            "def remove_duplicates(lst):\n    return list(set(lst))\n",
            ["assert remove_duplicates([1, 2, 2]) == [1, 2]", "assert remove_duplicates([]) == []"],
        ),
        # off by one: primes up to n, not below it
        "off_by_one": _new(
            "count_primes_below",
            "def count_primes_below(n):\n"
            "    return sum(all(k % d for d in range(2, k)) for k in range(2, n + 1))\n",
            ["assert count_primes_below(10) == 4", "assert count_primes_below(2) == 0"],
        ),
        # a right solution whose tests assert a wrong value
        "wrong_test": _new(
            "is_leap_year",
            _renamed_reference("is_leap_year", "is_leap_year"),
            ["assert is_leap_year(2024) == True", "assert is_leap_year(1900) == True"],
        ),
        # tuples where the task's examples show lists
        "tuples": _new(
            "transpose",
            "def transpose(matrix):\n    return list(zip(*matrix))\n",
            ["assert transpose([[1]]) == [(1,)]"],
        ),
        # not even loadable
        "broken": _new("gcd", "def gcd(a, b):\n    return a +\n", ["assert gcd(2, 4) == 2"]),
    }
    checks = dict(zip(rows, check_payloads(list(rows.values()), pool), strict=True))
    for key, check in checks.items():
        assert check.labelled and check.defect and not check.ok, (key, check)
    assert (checks["total"].solution_ok, checks["total"].tests_ok) == (False, False)
    assert (checks["set"].solution_ok, checks["set"].tests_ok) == (False, True)
    assert "[2, 1, 2, 1]" in checks["set"].reason
    assert checks["off_by_one"].solution_ok is False
    assert "(11,)" in checks["off_by_one"].reason
    assert (checks["wrong_test"].solution_ok, checks["wrong_test"].tests_ok) == (True, False)
    assert "is_leap_year(1900) == True" in checks["wrong_test"].reason
    assert (checks["tuples"].solution_ok, checks["tuples"].tests_ok) == (False, False)
    assert checks["broken"].solution_ok is False and "does not load" in checks["broken"].reason


def test_tests_are_judged_with_float_tolerance_keywords_and_domain(pool: SandboxPool) -> None:
    solution = "def to_f(c):\n    print('working')\n    return c * 1.8 + 32\n"
    tests = [
        "assert to_f(37) == 98.6",  # 98.60000000000001 from the reference: close enough
        "assert to_f(c=100) == 212",  # a keyword named as the solution names it
        "assert to_f(1, 2) == 0",  # a call the task does not allow: not judged
    ]
    check = check_payload(_old("celsius_to_fahrenheit", solution, tests, "to_f"), pool)
    assert (check.ok, check.solution_ok, check.tests_ok) == (True, True, True), check
    assert "not judged" in check.reason and "to_f(1, 2)" in check.reason


def test_a_function_named_like_a_builtin_the_reference_uses(pool: SandboxPool) -> None:
    # The reference of find_largest calls max(); the model's function is called max too,
    # with a default naming something only the solution defines.
    solution = (
        "CACHE = None\n"
        "def max(numbers, start=CACHE):\n"
        "    best = numbers[0]\n"
        "    for x in numbers:\n"
        "        if x > best:\n"
        "            best = x\n"
        "    return best\n"
    )
    tests = ["assert max([1, 5, 2]) == 5", "assert max(numbers=[-3]) == -3"]
    check = check_payload(_old("find_largest", solution, tests, "max"), pool)
    assert (check.ok, check.solution_ok, check.tests_ok, check.reason) == (True, True, True, "ok")


def test_rows_without_a_bank_task_are_unlabelled(pool: SandboxPool) -> None:
    unknown = _old("running_sum", "def f(x):\n    return x\n", ["assert f(1) == 1"])
    unknown["task"] = "sort a list"  # not a bank description
    stray = _new("gcd", "def gcd(a, b):\n    return 1\n", [])
    stray["task"] = {**stray["task"], "id": "not_in_bank", "task": "not in the bank"}
    checks = check_payloads([unknown, stray], pool)
    assert [(c.task_id, c.ok, c.labelled, c.reason) for c in checks] == [
        (None, False, False, "no reference"),
        (None, False, False, "no reference"),
    ]
    summary = summarize([*checks, RowCheck("x", "gcd", False, False, True, "wrong")])
    assert (summary["accepted"], summary["labelled"], summary["no_reference"]) == (3, 1, 2)
    assert (summary["defects"], summary["solution_wrong"], summary["tests_wrong"]) == (1, 1, 0)


def test_the_command_reads_a_workspace_and_filters_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not detect_isolation(uid=UID_BASE).meets_minimum:
        pytest.skip("host cannot run the hardened sandbox")
    right = _renamed_reference("running_sum", "running_sum")
    rows = [
        {"run_id": "run-a", **_old("running_sum", right, ["assert running_sum([1]) == [1]"])},
        {"run_id": "run-a", **_old("running_sum", "def running_sum(x):\n    return sum(x)\n", [])},
        {"run_id": "run-b", **_old("running_sum", right, [])},
    ]
    for i, row in enumerate(rows):
        row["item_id"] = f"item-{i}"
    LanceStore(str(tmp_path / "ws" / "datasets" / "pyfunc.lance")).append(rows)
    out = tmp_path / "report.json"
    argv = ["--workspace", str(tmp_path / "ws"), "--run", "run-a", "--json", str(out)]
    assert main([*argv, "--uid-base", str(UID_BASE + 10)]) == 0
    printed = capsys.readouterr().out
    assert "accepted:   2" in printed and "defect rate: 50.0%" in printed
    report = json.loads(out.read_text())
    assert (report["accepted"], report["labelled"], report["defects"]) == (2, 2, 1)
    assert list(report["defects_by_task"]) == ["running_sum"]
    assert report["defects_by_task"]["running_sum"][0]["item_id"] == "item-1"
