"""``sql``: text-to-SQL on a small shop database, with all three verification tiers.

Each item takes a question from the bank (``sql_questions.jsonl``: the question, what the
answer holds in plain words and how many columns that is, and whether it is critical),
asks the ``generator`` role for a SQLite query as JSON, and then:

- tier 1 (``plans``): SQLite must plan the query against the schema alone (an in-memory
  database with the tables and no rows; nothing runs), which catches unknown tables and
  columns, misused aggregates and writes;
- tier 2 (``executes``), on every item: the query runs in the sandbox on a read-only copy
  of the shipped database and must return rows, no column that is NULL in every row, and
  exactly the columns the question asks for;
- tier 3 (``answers``): the ``judge`` role is asked whether the query answers the question.

The prompt shows the schema and the values stored in the few low-cardinality text columns
(the categories as written in the data), which the schema alone does not tell.
Rebuild the database from ``shop.sql`` with ``python -m synthfactory.examples.sql --build``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from synthfactory.recipe.model import Dataset, JudgeStep, ModelStep, Recipe, VerifyStep
from synthfactory.verify.checks import build_check
from synthfactory.verify.sandbox_checks import sql_result

HERE = Path(__file__).resolve().parent
DATABASE = HERE / "shop.sqlite"
SCHEMA = (HERE / "shop.sql").read_text().split("INSERT INTO")[0].strip()
BANK = HERE / "sql_questions.jsonl"


def load_questions(path: Path = BANK) -> tuple[dict[str, Any], ...]:
    """The question bank: one JSON object per line with ``question``, ``returns`` (what the
    answer holds, in words), ``columns`` (how many) and ``critical``."""
    questions = tuple(json.loads(line) for line in path.read_text().splitlines() if line)
    for q in questions:
        if not (
            isinstance(q.get("question"), str)
            and isinstance(q.get("returns"), str)
            and isinstance(q.get("columns"), int)
            and isinstance(q.get("critical"), bool)
        ):
            raise ValueError(f"{path}: malformed question {q!r}")
    return questions


def stored_values(database: Path = DATABASE, max_distinct: int = 10) -> str:
    """The values of the text columns that hold a few repeated values (categories, countries),
    one line per column: what a query's string literals must match, which the schema alone
    does not say. Columns whose values are all different (names) are left out."""
    lines = []
    with contextlib.closing(
        sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    ) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type='table'")]
        for table in tables:
            for _, column, kind, *_ in db.execute(f"PRAGMA table_info({table})").fetchall():
                if kind.upper() != "TEXT":
                    continue
                rows, distinct = db.execute(
                    f"SELECT COUNT(*), COUNT(DISTINCT {column}) FROM {table}"
                ).fetchone()
                if distinct > max_distinct or distinct >= rows:
                    continue
                values = [
                    r[0] for r in db.execute(f"SELECT DISTINCT {column} FROM {table} ORDER BY 1")
                ]
                lines.append(f"{table}.{column}: " + ", ".join(f"'{v}'" for v in values))
    return "\n".join(lines)


QUESTIONS = load_questions()

PROMPT = (
    "Database schema:\n{{ schema }}\n\n"
    "{% if values %}Values stored in some text columns (compare with them exactly):\n"
    "{{ values }}\n\n{% endif %}"
    "Question: {{ question }}\n"
    "The answer holds {{ returns }}: exactly {{ columns }} column(s), nothing else.\n"
    "Give sql (one SQLite SELECT statement answering the question) and "
    "explanation (one sentence)."
)


def build_recipe(*, values: bool = True, judge: bool = True) -> Recipe:
    """The recipe; ``values=False`` leaves the stored values out of the prompt and
    ``judge=False`` drops the judge tier (both for measuring what they bring)."""
    steps: list[Any] = [
        ModelStep(
            name="write",
            role="generator",
            system="You translate questions into SQLite queries. Answer in JSON.",
            prompt=PROMPT,
            schema={
                "type": "object",
                "properties": {
                    "sql": {"type": "string", "pattern": "^(SELECT|WITH|select|with) "},
                    "explanation": {"type": "string"},
                },
                "required": ["sql", "explanation"],
                "additionalProperties": False,
            },
            output="answer",
            params={"temperature": 0.3, "max_tokens": 200},
        ),
        VerifyStep(
            name="plans", fn=build_check("sql_plans", {"field": "answer.sql", "schema": SCHEMA})
        ),
        sql_result("executes", DATABASE, field="answer.sql", columns_field="columns"),
    ]
    if judge:
        steps.append(
            JudgeStep(
                name="answers",
                rubric=(
                    "Database schema:\n{{ schema }}\n\nQuestion: {{ question }}\n"
                    "The answer should hold {{ returns }}.\n"
                    "Proposed SQL: {{ answer.sql }}\n\n"
                    "Does this query correctly answer the question on this schema? "
                    "Score 10 if exactly right, 1 if wrong."
                ),
                threshold=6,
            )
        )
    shown = stored_values() if values else ""
    return Recipe(
        name="sql",
        version="2",
        description=(
            "Text-to-SQL on a shop database: planned against the schema, executed read-only "
            "on every item, judged."
        ),
        steps=tuple(steps),
        # Items cycle through the bank; each asks with its own seed, so repeats differ.
        seeds=tuple({**q, "schema": SCHEMA, "values": shown} for q in QUESTIONS),
        dataset=Dataset(name="sql", fields=("question", "answer")),
    )


recipe = build_recipe()


def build_database(path: Path = DATABASE) -> None:
    """(Re)build the shipped database from ``shop.sql``."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript((HERE / "shop.sql").read_text())
    db.close()


if __name__ == "__main__" and "--build" in sys.argv:
    build_database()
