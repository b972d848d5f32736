"""Execution accuracy of the ``sql`` recipe's accepted queries, against labelled references.

For each stored row of the ``sql`` dataset (``WS/datasets/sql.lance``), the accepted query
runs in the hardened sandbox (generated SQL is untrusted) and the question's reference
query (``labels/sql_reference.py``) runs in this process, both on the shipped database,
read-only. A query is right when its result set is the reference's, as in Spider and
BIRD's execution accuracy:

- the same multiset of rows (the same list, in order, when the question asks for an order);
- values compared with numbers as floats rounded to 2 decimals, text exactly;
- the same columns, in any order: a query returning other or extra columns (ids instead
  of names, the price beside the name) is wrong;
- a query that errors is wrong.

"lenient" also counts a result right when some of its columns, taken in some order, are
exactly the reference's result: a query that returns the answer plus extra columns. It is
reported beside the strict rate, never instead of it.

    python bench/check_sql.py --workspace WS [--run RUN_ID ...] [--json OUT]

Prints accepted, wrong and the defect rate with its Wilson 95% interval, then each wrong
query with the reason.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labels.sql_reference import REFERENCES, Reference

from synthfactory.examples.sql import DATABASE
from synthfactory.sandbox import SandboxJob, SandboxPool
from synthfactory.verify.stats import Rate

#: A result: column names and rows.
Result = tuple[list[str], list[tuple[Any, ...]]]

# The job gets the database's bytes, not its path: the sandbox may read only the
# interpreter's own paths. The copy is opened in memory with query_only.
_JOB = """\
import base64, json, sqlite3
db = sqlite3.connect(":memory:")
db.deserialize(base64.b64decode({data!r}))
db.execute("PRAGMA query_only = ON")
try:
    cursor = db.execute({sql!r})
    rows = cursor.fetchall()
    columns = [d[0] for d in cursor.description or ()]
except (sqlite3.Error, ValueError, OverflowError) as err:
    print(json.dumps({{"error": f"{{type(err).__name__}}: {{err}}"}}))
else:
    print(json.dumps({{"columns": columns, "rows": rows}}, default=repr))
"""


@dataclass(frozen=True)
class Judged:
    """One accepted query, checked: ``correct`` is the strict verdict, ``reason`` why not."""

    question: str
    sql: str
    correct: bool
    lenient: bool
    reason: str
    item_id: str | None = None
    run_id: str | None = None


def normalize(value: Any) -> Any:
    """Numbers as floats rounded to 2 decimals (so 6 == 6.0 and 85.8333 == 85.83)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return round(float(value), 2)
    return value


def _rows(rows: Iterable[Sequence[Any]], columns: Sequence[int]) -> list[tuple[Any, ...]]:
    return [tuple(normalize(row[i]) for i in columns) for row in rows]


def _same(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]], ordered: bool) -> bool:
    return got == want if ordered else Counter(got) == Counter(want)


def compare(got: Result, want: Result, *, ordered: bool) -> tuple[bool, bool, str]:
    """(strict, lenient, reason): whether ``got`` is ``want`` under execution accuracy."""
    got_columns, got_rows = got
    want_columns, want_rows = want
    n, m = len(got_columns), len(want_columns)
    target = _rows(want_rows, range(m))
    # Columns in any order; with extra columns, any m of them (lenient only).
    lenient = n >= m and any(
        _same(_rows(got_rows, pick), target, ordered)
        for pick in itertools.permutations(range(n), m)
    )
    if n != m:
        return False, lenient, f"returns {n} column(s) {got_columns}, the answer has {m}"
    if lenient:
        return True, True, ""
    if len(got_rows) != len(want_rows):
        return False, False, f"returns {len(got_rows)} row(s), the answer has {len(want_rows)}"
    sample = [tuple(normalize(v) for v in row) for row in got_rows[:3]]
    return False, False, f"different values: {sample} vs {target[:3]}"


def reference_result(reference: Reference, database: Path = DATABASE) -> Result:
    """The reference's result, computed in this process on the database opened read-only."""
    uri = f"{database.resolve().as_uri()}?mode=ro&immutable=1"
    db = sqlite3.connect(uri, uri=True)
    try:
        cursor = db.execute(reference.sql)
        rows = cursor.fetchall()
        return [d[0] for d in cursor.description], rows
    finally:
        db.close()


def _sql_of(row: Mapping[str, Any]) -> str:
    answer = row.get("answer")
    if isinstance(answer, str):  # a field stored as JSON
        answer = json.loads(answer)
    sql = answer.get("sql") if isinstance(answer, Mapping) else None
    return sql if isinstance(sql, str) else ""


def check_rows(
    rows: Sequence[Mapping[str, Any]], sandbox: SandboxPool, database: Path = DATABASE
) -> list[Judged]:
    """Check every row (a stored ``sql`` row or any mapping with ``question`` and
    ``answer.sql``); the generated queries run in ``sandbox``, all in one batch."""
    data = base64.b64encode(database.read_bytes()).decode()
    jobs = [
        SandboxJob(f"q{i}", _JOB.format(data=data, sql=_sql_of(row)), timeout_s=5.0)
        for i, row in enumerate(rows)
    ]
    results = sandbox.run(jobs)
    judged = []
    for row, result in zip(rows, results, strict=True):
        question, sql = str(row["question"]), _sql_of(row)
        ids = {"item_id": row.get("item_id"), "run_id": row.get("run_id")}
        reference = REFERENCES.get(question)
        if reference is None:
            raise KeyError(f"no reference query for question {question!r}")
        got = _read_output(result.stdout) if result.passed else None
        if got is None:
            why = f"the sandbox job did not finish: {result.verdict} {result.reason}".strip()
            judged.append(Judged(question, sql, False, False, why, **ids))
            continue
        if isinstance(got, str):
            judged.append(Judged(question, sql, False, False, f"does not run: {got}", **ids))
            continue
        strict, lenient, reason = compare(
            got, reference_result(reference, database), ordered=reference.ordered
        )
        judged.append(Judged(question, sql, strict, lenient, reason, **ids))
    return judged


def _read_output(stdout: str) -> Result | str | None:
    try:
        out = json.loads(stdout)
    except json.JSONDecodeError:
        return None  # cut by the pool's output bound, or no output at all
    if "error" in out:
        return str(out["error"])
    return list(out["columns"]), [tuple(r) for r in out["rows"]]


def check_row(row: Mapping[str, Any], sandbox: SandboxPool) -> Judged:
    """Check one stored row; see :func:`check_rows`."""
    (judged,) = check_rows([row], sandbox)
    return judged


def read_rows(workspace: Path, runs: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The stored rows of the ``sql`` dataset, optionally only those of ``runs``."""
    import lance

    path = workspace / "datasets" / "sql.lance"
    rows: list[dict[str, Any]] = lance.dataset(str(path)).to_table().to_pylist()
    return [r for r in rows if not runs or r.get("run_id") in runs]


def summarize(judged: Sequence[Judged]) -> dict[str, Any]:
    """Accepted, wrong, the defect rate (strict and lenient) and the failures per question."""
    wrong = [j for j in judged if not j.correct]
    per_question: dict[str, dict[str, int]] = {}
    for j in judged:
        counts = per_question.setdefault(j.question, {"accepted": 0, "wrong": 0})
        counts["accepted"] += 1
        counts["wrong"] += not j.correct
    return {
        "accepted": len(judged),
        "wrong": len(wrong),
        "defect_rate": Rate(len(wrong), len(judged)).to_dict(),
        "lenient_defect_rate": Rate(sum(not j.lenient for j in judged), len(judged)).to_dict(),
        "per_question": per_question,
        "failures": [asdict(j) for j in wrong],
    }


def report(summary: Mapping[str, Any]) -> str:
    """The summary as text."""
    strict, lenient = summary["defect_rate"], summary["lenient_defect_rate"]
    lines = [
        f"accepted {summary['accepted']}, wrong {summary['wrong']}: defect rate "
        f"{Rate(strict['k'], strict['n'])}",
        f"lenient (extra columns allowed): {Rate(lenient['k'], lenient['n'])}",
    ]
    by_question: dict[str, list[dict[str, Any]]] = {}
    for failure in summary["failures"]:
        by_question.setdefault(failure["question"], []).append(failure)
    for question, failures in by_question.items():
        counts = summary["per_question"][question]
        lines.append(f"\n{question}  ({counts['wrong']} of {counts['accepted']} wrong)")
        lines += [f"  {f['sql']}\n    -> {f['reason']}" for f in failures]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--run", nargs="*", default=[], help="only these runs' rows")
    parser.add_argument("--json", type=Path, help="write the summary here as JSON")
    args = parser.parse_args(argv)
    rows = read_rows(args.workspace, args.run)
    with SandboxPool(2) as pool:
        summary = summarize(check_rows(rows, pool))
    print(report(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
