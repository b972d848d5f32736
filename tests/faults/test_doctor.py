"""``synthfactory doctor``: each kind of damage to a workspace is found and named, the
repairable ones are healed without losing a verified row, and the repair is in the audit log.

Injected, into copies of a workspace made by a real ``hello`` run (30 rows, commits of 10)
against the fake server: a truncated audit log; bytes overwritten in the middle of the
ledger or the cache; a cached answer changed; a Lance data file overwritten; rows appended
with Lance directly; rows changed or deleted with Lance; a newer ``workspace.json`` or
ledger schema; stale ``*.tmp`` and lock files; an index out of step with its table. Must
hold: doctor exits 1 naming the file, ``--repair`` heals what it can (then doctor exits 0,
``audit verify`` passes, the dataset holds exactly the ledger's stored rows, and the log
records the repair), never a traceback.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import lance
import pyarrow as pa
import pytest
from typer.testing import CliRunner, Result

from synthfactory.cli import app
from synthfactory.doctor import check_workspace, problems
from synthfactory.testing import FakeServer
from tests.conftest import cli

runner = CliRunner()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run's workspace; each test damages a copy of it."""
    ws = tmp_path_factory.mktemp("doctor") / "ws"
    with FakeServer() as server:
        done = cli(
            "run", "hello", "-w", str(ws), "--target", "30", "--seed", "4", "--json",
            "--endpoint", f"generator={server.url}",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stored"] == 30
    return ws


@pytest.fixture
def ws(made: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "ws"
    shutil.copytree(made, copy)
    yield copy


def doctor(ws: Path, *args: str) -> Result:
    result = runner.invoke(app, ["doctor", "-w", str(ws), *args])
    # An exception escaping the command is what a user would see as a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def dataset_ids(ws: Path) -> list[str]:
    table = lance.dataset(str(ws / "datasets" / "hello.lance")).to_table(columns=["item_id"])
    return sorted(table.column("item_id").to_pylist())


def ledger_stored(ws: Path) -> list[str]:
    with sqlite3.connect(ws / "ledger.sqlite") as conn:
        rows = conn.execute("SELECT item_id FROM items WHERE state='stored'").fetchall()
    return sorted(r[0] for r in rows)


def repair_records(ws: Path) -> list[dict[str, object]]:
    with sqlite3.connect(ws / "audit" / "log.sqlite") as conn:
        rows = conn.execute("SELECT record FROM leaves").fetchall()
    records = [json.loads(r[0]) for r in rows]
    return [r for r in records if r["step"] == "doctor:repair"]


def overwrite_middle(path: Path, size: int = 512) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = b"\xde\xad" * (size // 2)
    path.write_bytes(bytes(data))


def assert_healed(ws: Path, rows_before: list[str]) -> None:
    """doctor is clean, the log and every row verify, and no verified row was lost."""
    again = doctor(ws)
    assert again.exit_code == 0, again.output
    assert "OK: every store" in again.output
    verified = cli("audit", "verify", "-w", str(ws))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "every row matches its accept record" in verified.stdout
    assert dataset_ids(ws) == rows_before == ledger_stored(ws)


def test_a_healthy_workspace_is_sound(ws: Path) -> None:
    done = doctor(ws)
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"OK: every store of {ws} is sound"
    full = doctor(ws, "--full", "--json")
    assert full.exit_code == 0 and json.loads(full.output)["ok"] is True
    assert check_workspace(ws, full=True) == []


def test_a_truncated_audit_log_is_named_and_never_written_to(ws: Path) -> None:
    log = ws / "audit" / "log.sqlite"
    with log.open("r+b") as handle:
        handle.truncate(log.stat().st_size - 4096)
    (ws / "left.tmp").write_text("half a file")
    before = log.read_bytes()
    found = doctor(ws)
    assert found.exit_code == 1
    assert "PROBLEM audit/log.sqlite: the audit log does not verify" in found.output
    assert "restore audit/log.sqlite from a backup" in found.output
    repaired = doctor(ws, "--repair")
    assert repaired.exit_code == 1  # the log is beyond repair
    assert "repaired left.tmp: deleted left.tmp (not recorded: the audit log is not sound" in (
        repaired.output
    )
    assert log.read_bytes() == before and not (ws / "left.tmp").exists()


@pytest.mark.parametrize("name", ["ledger.sqlite", "cache.sqlite"])
def test_overwritten_bytes_in_an_sqlite_file_are_named(ws: Path, name: str) -> None:
    overwrite_middle(ws / name)
    found = doctor(ws)
    assert found.exit_code == 1, found.output
    assert f"PROBLEM {name}: the " in found.output and "damaged" in found.output
    assert "restore" in found.output  # what to do
    assert doctor(ws, "--repair").exit_code == 1  # not repairable: said, not attempted


def test_a_changed_cache_entry_is_quarantined_and_the_repair_logged(ws: Path) -> None:
    rows_before = dataset_ids(ws)
    with sqlite3.connect(ws / "cache.sqlite") as conn:
        (key,) = conn.execute("SELECT key FROM responses ORDER BY key LIMIT 1").fetchone()
        conn.execute(
            "UPDATE responses SET response = replace(response, 'fake text', 'evil text')"
            " WHERE key = ?",
            (key,),
        )
    found = doctor(ws)
    assert found.exit_code == 1
    assert f"{key[:16]}... (its stored answer does not hash to its digest)" in found.output
    repaired = doctor(ws, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "moved 1 cache entry to the quarantine table" in repaired.output
    with sqlite3.connect(ws / "cache.sqlite") as conn:
        assert conn.execute("SELECT key FROM quarantine").fetchall() == [(key,)]
        assert conn.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is None
    (record,) = repair_records(ws)
    assert record["item_id"] == "workspace:cache.sqlite"
    assert record["extra"]["keys"] == [key]  # type: ignore[index]
    assert_healed(ws, rows_before)


def test_a_corrupt_data_file_is_named_and_rebuilt_from_the_ledger(ws: Path) -> None:
    rows_before = dataset_ids(ws)
    data_files = sorted((ws / "datasets" / "hello.lance" / "data").glob("*.lance"))
    assert len(data_files) == 1  # one commit, recorded by the ledger: no version to roll back to
    overwrite_middle(data_files[0], size=64)
    found = doctor(ws)
    assert found.exit_code == 1
    assert f"data/{data_files[0].name} (in version 1) cannot be read" in found.output
    repaired = doctor(ws, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "dropped 1 unreadable data file(s) from dataset hello and wrote 30" in repaired.output
    assert "(recorded in the audit log)" in repaired.output
    assert [r["item_id"] for r in repair_records(ws)] == ["workspace:datasets/hello.lance"]
    assert_healed(ws, rows_before)


def test_a_version_the_ledger_does_not_know_is_rolled_back(ws: Path) -> None:
    rows_before = dataset_ids(ws)
    uri = str(ws / "datasets" / "hello.lance")
    table = lance.dataset(uri)
    extra = table.to_table(limit=2).to_pylist()
    for row in extra:
        row["item_id"] = "intruder-" + row["item_id"]
    lance.write_dataset(pa.Table.from_pylist(extra, schema=table.schema), uri, mode="append")
    found = doctor(ws)
    assert found.exit_code == 1
    assert "version 2 holds rows the ledger does not know: 2 no synthfactory run made" in (
        found.output
    )
    repaired = doctor(ws, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "rolled dataset hello back from version 2 to the content of version 1" in (
        repaired.output
    )
    (record,) = repair_records(ws)
    assert record["extra"]["from"] == 2 and record["extra"]["to"] == 1  # type: ignore[index]
    assert_healed(ws, rows_before)


def test_changed_and_deleted_rows_are_healed(ws: Path) -> None:
    rows_before = dataset_ids(ws)
    table = lance.dataset(str(ws / "datasets" / "hello.lance"))
    table.update({"topic": "'something else'"}, where=f"item_id = '{rows_before[7]}'")
    found = doctor(ws)
    assert found.exit_code == 1
    assert f"row {rows_before[7]} does not match its accept record" in found.output
    assert doctor(ws, "--repair").exit_code == 0
    lance.dataset(str(ws / "datasets" / "hello.lance")).delete(f"item_id = '{rows_before[3]}'")
    found = doctor(ws)
    assert "1 row(s) the ledger holds as stored are not in version" in found.output
    repaired = doctor(ws, "--repair")
    assert "wrote 1 stored row(s) again from the ledger" in repaired.output
    assert len(repair_records(ws)) == 2
    assert_healed(ws, rows_before)


@pytest.mark.parametrize("which", ["workspace", "ledger"])
def test_a_newer_format_is_refused_and_named(ws: Path, which: str) -> None:
    if which == "workspace":
        marker = ws / "workspace.json"
        marker.write_text(marker.read_text().replace('"format": 1', '"format": 2'))
        expected = "PROBLEM workspace.json: the workspace was written by a newer synthfactory"
    else:
        with sqlite3.connect(ws / "ledger.sqlite") as conn:
            conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        expected = "PROBLEM ledger.sqlite: the ledger has schema 2, newer than this"
    found = doctor(ws)
    assert found.exit_code == 1
    assert expected in found.output and "pip install -U synthfactory" in found.output
    assert doctor(ws, "--repair").exit_code == 1


def test_orphan_files_are_removed_and_a_live_run_is_left_alone(ws: Path) -> None:
    (known_lock,) = (ws / "runs").glob("*.lock")
    (ws / "workspace.tmp").write_text("{")
    (ws / "runs" / "run-ghost.lock").write_text("pid 1 on nowhere\n")
    found = doctor(ws)
    assert found.exit_code == 1
    assert "PROBLEM workspace.tmp: workspace.tmp is a temporary file" in found.output
    assert "PROBLEM runs/run-ghost.lock: runs/run-ghost.lock is the lock of a run" in found.output
    assert known_lock.name not in found.output  # a finished run's lock is no orphan
    with (ws / "runs" / "run-live.lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        live = doctor(ws, "--repair")
        assert live.exit_code == 2 and "a run is being driven right now" in live.output
        assert (ws / "workspace.tmp").exists()
    (ws / "runs" / "run-live.lock").unlink()
    repaired = doctor(ws, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert not (ws / "workspace.tmp").exists() and not (ws / "runs" / "run-ghost.lock").exists()
    assert known_lock.exists()
    assert len(repair_records(ws)) == 2


def test_rows_committed_before_the_ledger_heard_of_them_are_a_note_not_a_problem(
    ws: Path,
) -> None:
    """A run killed between its dataset commit and its ledger write: its rows are in the
    table and "passed" in the ledger. That is for ``resume``, not a repair."""
    with sqlite3.connect(ws / "ledger.sqlite") as conn:
        conn.execute("UPDATE items SET state = 'passed' WHERE idx >= 25")
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
    found = doctor(ws)
    assert found.exit_code == 0, found.output
    assert "note    datasets/hello.lance: dataset hello: 5 row(s) are in the table" in found.output
    assert f"`synthfactory resume {run_id}` records them as stored" in found.output


def test_a_stale_index_is_found_by_full_and_rebuilt(ws: Path) -> None:
    with sqlite3.connect(ws / "ledger.sqlite") as conn:
        # The index's definition no longer says what its entries hold.
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX items_by_run_state ON items (state,"
            " run_id)' WHERE name = 'items_by_run_state'"
        )
    assert doctor(ws).exit_code == 0  # quick_check does not hold indexes against tables
    found = doctor(ws, "--full")
    assert found.exit_code == 1
    assert "PROBLEM ledger.sqlite: the ledger has indexes out of step" in found.output
    repaired = doctor(ws, "--full", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "rebuilt the indexes of ledger.sqlite" in repaired.output
    assert not problems(check_workspace(ws, full=True))


def test_every_damage_at_once_through_the_real_command_never_a_traceback(ws: Path) -> None:
    rows_before = dataset_ids(ws)
    uri = str(ws / "datasets" / "hello.lance")
    extra = lance.dataset(uri).to_table(limit=1).to_pylist()
    extra[0]["item_id"] = "intruder"
    lance.write_dataset(
        pa.Table.from_pylist(extra, schema=lance.dataset(uri).schema), uri, mode="append"
    )
    with sqlite3.connect(ws / "cache.sqlite") as conn:
        conn.execute("UPDATE responses SET response = x'00' WHERE rowid = 1")
    (ws / "audit" / "witness" / "x.tmp").write_text("")
    found = cli("doctor", "-w", str(ws))
    assert found.returncode == 1 and found.stdout.count("PROBLEM") == 3, found.stdout
    assert "Traceback" not in found.stderr
    repaired = cli("doctor", "-w", str(ws), "--repair", "--json")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "Traceback" not in repaired.stderr
    report = json.loads(repaired.stdout)
    assert report["ok"] and len(report["repairs"]) == 3 and report["after_repair"] == []
    assert all(r["logged"] for r in report["repairs"])
    assert_healed(ws, rows_before)
    elsewhere = cli("doctor", "-w", str(ws / "nope"))
    assert elsewhere.returncode == 2 and "not a synthfactory workspace" in elsewhere.stderr
    assert "Traceback" not in elsewhere.stderr


def test_a_cache_from_before_digests_gains_the_column_and_still_checks(tmp_path: Path) -> None:
    from synthfactory.cache import ResponseCache, bad_entries
    from synthfactory.models.client import ChatResponse

    path = tmp_path / "cache.sqlite"
    with sqlite3.connect(path) as conn:  # the table as caches were made before
        conn.execute(
            "CREATE TABLE responses (key TEXT PRIMARY KEY, model TEXT NOT NULL,"
            " response BLOB NOT NULL, created_at REAL NOT NULL)"
        )
        old = json.dumps(ChatResponse("old answer", "m").to_dict()).encode()
        conn.execute("INSERT INTO responses VALUES ('k-old', 'm', ?, 0)", (old,))
        conn.execute("INSERT INTO responses VALUES ('k-bad', 'm', x'7b', 0)")
    cache = ResponseCache(path)
    cache.put("k-new", ChatResponse("new answer", "m"))
    cache.close()
    with sqlite3.connect(path) as conn:
        assert [b.key for b in bad_entries(conn)] == ["k-bad"]  # old entries: decode only
        conn.execute("UPDATE responses SET response = ? WHERE key = 'k-new'", (old,))
        assert sorted(b.key for b in bad_entries(conn)) == ["k-bad", "k-new"]
