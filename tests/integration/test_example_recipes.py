"""The example recipes run all three tiers; driven here by a scripted fake endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from synthfactory.ledger import Ledger
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli

GOOD_SQL = {"sql": "SELECT COUNT(*) FROM customers", "explanation": "counts customers"}
BAD_SQL = {"sql": "SELECT name FROM buyers", "explanation": "there is no such table"}
SCRIPTS = [
    # The judge is asked last; its prompt quotes the SQL, so match it first.
    (r"Proposed SQL: SELECT COUNT", json.dumps({"score": 9, "reasons": "counts them"})),
    (r"Proposed SQL:", json.dumps({"score": 2, "reasons": "wrong"})),
    (r"Question: Which customer placed the most orders\?", json.dumps(BAD_SQL)),
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
    assert tiers["sandbox"]["skipped"] > 0  # the 20% policy
    assert tiers["sandbox"]["ran"] > 0
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        items = ledger.items(summary["run_id"])
    finally:
        ledger.close()
    for item in items:
        by_step = {v["step"]: v for v in item.verdicts}
        if item.payload["critical"]:
            # Critical questions always run in the sandbox, against the real database.
            assert by_step["executes"]["status"] != "skipped"
        if item.payload["question"].startswith("Which customer placed the most"):
            assert item.state == "rejected"
            assert "no such table" in by_step["executes"]["details"]["stderr"]
        elif item.state == "stored" and by_step["executes"]["status"] == "pass":
            assert json.loads(by_step["executes"]["details"]["stdout"]) == [[6]]
    # The shipped database is opened read-only and is unchanged.
    import sqlite3

    from synthfactory.examples.sql import DATABASE

    with sqlite3.connect(f"file:{DATABASE}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM customers").fetchone() == (6,)
