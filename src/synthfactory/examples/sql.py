"""``sql``: text-to-SQL on a small shop database, with all three verification tiers.

Each item samples a question, asks the ``generator`` role for a SQLite query as JSON, and
then: tier 1 parses it (sqlglot, SQLite dialect); tier 2 runs it in the sandbox against a
read-only in-memory copy of the shipped database (it must run and return rows), on every
question tagged critical and a seeded 20% of the rest; tier 3 asks the ``judge`` role
whether the query answers the question. Rebuild the database from ``shop.sql`` with
``python -m synthfactory.examples.sql --build``.
"""

from __future__ import annotations

import base64
import sqlite3
import sys
from pathlib import Path

from synthfactory.recipe.model import (
    Dataset,
    JudgeStep,
    ModelStep,
    Recipe,
    SandboxStep,
    VerificationPolicy,
    VerifyStep,
)
from synthfactory.verify.checks import build_check

HERE = Path(__file__).resolve().parent
DATABASE = HERE / "shop.sqlite"
SCHEMA = (HERE / "shop.sql").read_text().split("INSERT INTO")[0].strip()

#: (question, critical): joins and aggregates are where text-to-SQL goes wrong.
QUESTIONS = (
    ("How many customers are there?", False),
    ("List the names of all customers from the US.", False),
    ("What is the most expensive product?", False),
    ("List the products in the books category with their prices.", False),
    ("How many orders were placed in 2024?", False),
    ("What is the average price of hardware products?", False),
    ("Which customers joined in 2024?", False),
    ("How many products does each category have?", False),
    ("What is the total quantity of keyboards ordered?", True),
    ("Which customer placed the most orders?", True),
    ("What is the total revenue (price times quantity) per country?", True),
    ("List each customer with the number of distinct products they bought.", True),
)

# The database travels inside the job as bytes and is opened in memory with query_only:
# the sandbox may read only the interpreter's own paths, where the shipped file need not lie
# (a git worktree, a copied recipe). The SQL goes in as a JSON (so Python) string.
RUN_QUERY = (
    "import base64, json, sqlite3, sys\n"
    f"data = base64.b64decode({base64.b64encode(DATABASE.read_bytes()).decode()!r})\n"
    "sql = {{ answer.sql | tojson }}\n"
    "db = sqlite3.connect(':memory:')\n"
    "db.deserialize(data)\n"
    "db.execute('PRAGMA query_only = ON')\n"
    "rows = db.execute(sql).fetchall()\n"
    "print(json.dumps(rows[:20], default=str))\n"
    "if not rows:\n"
    "    sys.exit('the query returned no rows')\n"
)

recipe = Recipe(
    name="sql",
    version="1",
    description="Text-to-SQL on a shop database: parsed, executed read-only, judged.",
    steps=(
        ModelStep(
            name="write",
            role="generator",
            system="You translate questions into SQLite queries. Answer in JSON.",
            prompt=(
                "Database schema:\n{{ schema }}\n\nQuestion: {{ question }}\n"
                "Give sql (one SQLite SELECT statement answering the question) and "
                "explanation (one sentence)."
            ),
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
            name="parses",
            fn=build_check("sql_parses", {"field": "answer.sql", "dialect": "sqlite"}),
        ),
        SandboxStep(name="executes", code=RUN_QUERY, timeout_s=5.0),
        JudgeStep(
            name="answers",
            rubric=(
                "Database schema:\n{{ schema }}\n\nQuestion: {{ question }}\n"
                "Proposed SQL: {{ answer.sql }}\n\n"
                "Does this query correctly answer the question on this schema? "
                "Score 10 if exactly right, 1 if wrong."
            ),
            threshold=6,
        ),
    ),
    # Items cycle through the questions; each asks with its own seed, so repeats differ.
    seeds=tuple(
        {
            "question": q,
            "critical": critical,
            "schema": SCHEMA,
        }
        for q, critical in QUESTIONS
    ),
    policy=VerificationPolicy(sample_rate=0.2),
    dataset=Dataset(name="sql", fields=("question", "answer")),
)


def build_database(path: Path = DATABASE) -> None:
    """(Re)build the shipped database from ``shop.sql``."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript((HERE / "shop.sql").read_text())
    db.close()


if __name__ == "__main__" and "--build" in sys.argv:
    build_database()
