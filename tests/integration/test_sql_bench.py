"""The ``sql`` recipe's labelled set and its verifiers, with the real sandbox.

The benchmark's checker (``bench/check_sql.py``) must call each reference query right and
the known-wrong queries of the issue wrong; the recipe's tier-1 and tier-2 checks must pass
every reference (a verifier that rejects right answers costs yield) and catch the wrong
queries they are meant to catch. The references are read here, by tests, never by a
verifier.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from synthfactory.examples import sql
from synthfactory.recipe.templates import render
from synthfactory.sandbox import Limits, SandboxJob, SandboxPool, detect_isolation
from synthfactory.verify.checks import build_check
from synthfactory.verify.sandbox_checks import sql_result

BENCH = Path(__file__).resolve().parents[2] / "bench"
UID_BASE = 1_900_000

US_NAMES = "List the names of all customers from the US."
HARDWARE = "What is the average price of hardware products?"
KEYBOARDS = "What is the total quantity of keyboards ordered?"
ALPHABETICAL = "List the names of all customers in alphabetical order."

#: (question, query, what the checker must say): the issue's wrong queries and the like.
WRONG = [
    (HARDWARE, "SELECT AVG(price) FROM products WHERE category = 'Hardware'", "values"),
    (KEYBOARDS, "SELECT SUM(quantity) FROM orders WHERE product_id = 99", "values"),
    (US_NAMES, "SELECT id FROM customers WHERE country = 'US'", "values"),
    (US_NAMES, "SELECT id, name FROM customers WHERE country = 'US'", "column"),
    (KEYBOARDS, "SELECT SUM(o.quantity) FROM orders o WHERE o.category = 'keyboards'", "run"),
    (ALPHABETICAL, "SELECT name FROM customers ORDER BY name DESC", "values"),
    (US_NAMES, "DELETE FROM customers", "run"),
]


@pytest.fixture(scope="module")
def bench() -> Iterator[tuple[ModuleType, ModuleType]]:
    """``check_sql`` and ``labels.sql_reference``, imported from ``bench/``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        yield (
            importlib.import_module("check_sql"),
            importlib.import_module("labels.sql_reference"),
        )
    for name in ("check_sql", "labels.sql_reference", "labels"):
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    report = detect_isolation(uid=UID_BASE)
    if not report.meets_minimum:
        pytest.skip(f"host lacks {report.unmet()}: {report.missing}")
    limits = Limits(memory_mb=256, pids=32, disk_mb=32, wall_floor_s=1.0)
    with SandboxPool(2, limits=limits, uid_base=UID_BASE, jobs_per_slot=100) as p:
        yield p


def _row(question: str, query: str) -> dict[str, Any]:
    return {"question": question, "answer": {"sql": query}}


def test_every_question_has_exactly_one_reference(bench: tuple[ModuleType, ModuleType]) -> None:
    _, labels = bench
    asked = [q["question"] for q in sql.QUESTIONS]
    assert len(asked) == len(set(asked)) >= 30
    assert set(asked) == set(labels.REFERENCES)


def test_checker_calls_the_references_right_and_known_wrong_queries_wrong(
    bench: tuple[ModuleType, ModuleType], pool: SandboxPool
) -> None:
    check_sql, labels = bench
    rows = [_row(q, ref.sql) for q, ref in labels.REFERENCES.items()]
    rows += [_row(q, query) for q, query, _ in WRONG]
    # The reference with its columns swapped and its rows reordered is still right.
    rows.append(_row(US_NAMES, "SELECT name FROM customers WHERE country = 'US' ORDER BY name"))
    rows.append(
        _row(
            "How many products does each category have?",
            ("SELECT COUNT(*), category FROM products GROUP BY category ORDER BY 1"),
        )
    )
    judged = check_sql.check_rows(rows, pool)
    n = len(labels.REFERENCES)
    assert [j.question for j in judged[:n] if not j.correct] == []
    for j, (_, _, why) in zip(judged[n : n + len(WRONG)], WRONG, strict=True):
        assert not j.correct, j
        assert {"values": "different values", "column": "column(s)", "run": "does not run"}[
            why
        ] in j.reason
    assert all(j.correct for j in judged[n + len(WRONG) :])
    # An extra column is wrong, strictly; "lenient" sees the answer inside it.
    extra = judged[n + 3]
    assert not extra.correct and extra.lenient
    summary = check_sql.summarize(judged)
    assert summary["wrong"] == len(WRONG)
    assert summary["defect_rate"]["k"] == len(WRONG)


def test_check_row_on_one_stored_row(
    bench: tuple[ModuleType, ModuleType], pool: SandboxPool
) -> None:
    check_sql, _ = bench
    # Stored rows may hold the answer as a JSON string.
    stored = {
        "question": HARDWARE,
        "answer": '{"sql": "SELECT AVG(price) FROM products '
        'WHERE category = \'hardware\'", "explanation": "x"}',
    }
    assert check_sql.check_row(stored, pool).correct


def test_recipe_verifiers_pass_every_reference_and_catch_the_wrong_queries(
    bench: tuple[ModuleType, ModuleType], pool: SandboxPool
) -> None:
    _, labels = bench
    plans = build_check("sql_plans", {"field": "answer.sql", "schema": sql.SCHEMA})
    executes = sql_result("executes", sql.DATABASE, columns_field="columns")
    bank = {q["question"]: q for q in sql.QUESTIONS}

    def verdicts(rows: list[tuple[str, str]]) -> list[tuple[bool, str]]:
        out = []
        for question, query in rows:
            payload = {**bank[question], "answer": {"sql": query}}
            planned = plans(payload)
            assert not isinstance(planned, bool)
            if not planned.passed:
                out.append((False, planned.reason))
                continue
            job = SandboxJob("q", render(executes.code, payload), executes.timeout_s)
            (result,) = pool.run([job])
            out.append((result.passed, result.stderr))
        return out

    references = verdicts([(q, ref.sql) for q, ref in labels.REFERENCES.items()])
    assert [r for r in references if not r[0]] == []
    caught = verdicts([(q, query) for q, query, _ in WRONG[:5]])
    assert [ok for ok, _ in caught] == [False, False, True, False, False]
    assert "NULL in every row" in caught[0][1]  # 'Hardware' is not how the data spells it
    assert "NULL in every row" in caught[1][1]
    # ids instead of names: the right shape, so only the labelled check catches it
    assert "the task asks for 1" in caught[3][1]
    assert "no such column: o.category" in caught[4][1]
