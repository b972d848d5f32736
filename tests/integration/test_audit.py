"""Provenance by default: every run writes the signed log; `audit verify` checks it all."""

from __future__ import annotations

import json
from pathlib import Path

import lance
import pytest

from synthfactory.testing import FakeServer
from tests.conftest import cli


@pytest.fixture
def finished_run(tmp_path: Path) -> tuple[Path, str]:
    ws = tmp_path / "ws"
    with FakeServer() as server:
        done = cli(
            "run",
            "hello",
            "-w",
            str(ws),
            "--target",
            "25",
            "--json",
            "--endpoint",
            f"generator={server.url}",
        )
    assert done.returncode == 0, done.stderr
    return ws, json.loads(done.stdout)["run_id"]


def test_a_run_writes_a_log_that_verifies_with_the_dataset(finished_run: tuple[Path, str]) -> None:
    ws, run_id = finished_run
    done = cli("audit", "verify", "-w", str(ws))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK:" in done.stdout and "witnessed" in done.stdout
    assert "every row matches" in done.stdout
    story = cli("explain", f"{run_id}-000003", "-w", str(ws))
    assert story.returncode == 0, story.stderr
    assert "step 'write'" in story.stdout and "fake-model" in story.stdout
    assert "ACCEPT" in story.stdout
    # The run's manifest pins the key its records are signed with.
    status = json.loads(cli("status", run_id, "-w", str(ws), "--json").stdout)
    assert status["audit"]["public_key"] == (ws / "audit" / "log.key.pub").read_text().strip()


def test_a_changed_dataset_row_is_caught(finished_run: tuple[Path, str]) -> None:
    ws, run_id = finished_run
    table = lance.dataset(str(ws / "datasets" / "hello.lance"))
    table.update({"topic": "'something else'"}, where=f"item_id = '{run_id}-000007'")
    done = cli("audit", "verify", "-w", str(ws))
    assert done.returncode == 1
    assert f"{run_id}-000007 does not match its accept record" in done.stdout


def test_an_edited_log_entry_is_caught(finished_run: tuple[Path, str]) -> None:
    import sqlite3

    ws, _ = finished_run
    conn = sqlite3.connect(ws / "audit" / "log.sqlite")
    conn.execute("DROP TRIGGER IF EXISTS leaves_no_update")
    triggers = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
    for name in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(
        "UPDATE leaves SET record = replace(record, 'fake-model', 'fake-modem') WHERE idx = 5"
    )
    conn.commit()
    conn.close()
    done = cli("audit", "verify", "-w", str(ws))
    assert done.returncode == 1
    assert "record 5" in done.stdout


def test_receipts_verify_offline_and_edits_are_caught(
    finished_run: tuple[Path, str], tmp_path: Path
) -> None:
    ws, run_id = finished_run
    receipt = tmp_path / "receipt.json"
    made = cli("audit", "receipt", f"{run_id}-000004", "--out", str(receipt), "-w", str(ws))
    assert made.returncode == 0, made.stderr
    pub = ws / "audit" / "log.key.pub"
    ok = cli("audit", "verify-receipt", str(receipt), "--public-key", str(pub))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    data = json.loads(receipt.read_text())
    text = json.dumps(data).replace(f"{run_id}-000004", f"{run_id}-000005", 1)
    receipt.write_text(text)
    bad = cli("audit", "verify-receipt", str(receipt), "--public-key", str(pub))
    assert bad.returncode == 1
