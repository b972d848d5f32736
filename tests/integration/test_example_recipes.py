"""The example recipes run all three tiers; driven here by a scripted fake endpoint."""

from __future__ import annotations

import json
import re
from pathlib import Path

from synthfactory.ledger import Ledger
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli

GOOD_SQL = {"sql": "SELECT COUNT(*) FROM customers", "explanation": "counts customers"}
#: Wrong in the three ways the 0.5B model was caught being wrong, one per tier that catches it.
WRONG = {
    # an unknown table: SQLite cannot plan it (tier 1)
    "Which customer placed the most orders?": "SELECT name FROM buyers",
    # the category as the model guessed it, not as stored: a NULL average (tier 2)
    "What is the average price of hardware products?": (
        "SELECT AVG(price) FROM products WHERE category = 'Hardware'"
    ),
    # more columns than the question asks for (tier 2)
    "List the names of all customers from the US.": (
        "SELECT id, name FROM customers WHERE country = 'US'"
    ),
}
SCRIPTS = [
    # The judge is asked last; its prompt quotes the SQL, so match it first.
    (r"Proposed SQL: SELECT COUNT", json.dumps({"score": 9, "reasons": "counts them"})),
    (r"Proposed SQL:", json.dumps({"score": 2, "reasons": "wrong"})),
    *(
        (f"Question: {re.escape(q)}", json.dumps({"sql": sql, "explanation": "wrong"}))
        for q, sql in WRONG.items()
    ),
    (r"Question: ", json.dumps(GOOD_SQL)),
]


def test_sql_recipe_uses_all_three_tiers(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig(scripts=SCRIPTS)) as server:
        done = cli(
            "run",
            "sql",
            "-w",
            str(ws),
            "--target",
            "12",
            "--max-items",
            "40",
            "--json",
            "--endpoint",
            f"generator={server.url}",
            "--endpoint",
            f"judge={server.url}",
        )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    tiers = summary["tiers"]
    assert set(tiers) == {"cheap", "sandbox", "judge"}
    assert tiers["sandbox"]["skipped"] == 0  # every item that plans is executed
    assert tiers["sandbox"]["ran"] > 0
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        items = ledger.items(summary["run_id"])
    finally:
        ledger.close()
    caught = set()
    for item in items:
        by_step = {v["step"]: v for v in item.verdicts}
        question = item.payload["question"]
        if question in WRONG:
            assert item.state == "rejected"
            caught.add(question)
        if question.startswith("Which customer placed the most"):
            assert "no such table: buyers" in by_step["plans"]["reason"]
            assert "executes" not in by_step  # the first failing tier stops the item
        elif question.startswith("What is the average price"):
            assert "NULL in every row" in by_step["executes"]["details"]["stderr"]
        elif question.startswith("List the names of all customers from the US"):
            assert "the task asks for 1" in by_step["executes"]["details"]["stderr"]
        elif item.payload["columns"] == 2:
            # COUNT(*) alone is one column: the question asks for two.
            assert item.state == "rejected"
            assert by_step["executes"]["status"] == "fail"
        elif item.state == "stored":
            assert by_step["executes"]["status"] == "pass"
            shown = json.loads(by_step["executes"]["details"]["stdout"])
            assert shown == {"columns": ["COUNT(*)"], "rows": [[6]]}
    assert caught == set(WRONG)
    # The shipped database is opened read-only and is unchanged.
    import sqlite3

    from synthfactory.examples.sql import DATABASE

    with sqlite3.connect(f"file:{DATABASE}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM customers").fetchone() == (6,)
