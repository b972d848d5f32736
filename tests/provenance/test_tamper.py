"""The tamper suite: every edit an attacker could make is named by the verifier."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from synthfactory.provenance import (
    NoteSigner,
    SignedCheckpoint,
    SqliteAuditLog,
    VerificationReport,
    WitnessRefusedError,
    leaf_hash,
    verify_log,
)
from synthfactory.provenance.cli import app as audit_app
from synthfactory.provenance.note import split_note

from .conftest import ORIGIN, LogSetup, make_record

_TRIGGERS = ("leaves_append_only_u", "leaves_append_only_d", "nodes_append_only_u")


def tamper(path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Edit the log file directly, as an attacker with file access would."""
    conn = sqlite3.connect(path, isolation_level=None)
    for trigger in (*_TRIGGERS, "nodes_append_only_d"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.execute("BEGIN")
    for sql, params in statements:
        conn.execute(sql, params)
    conn.execute("COMMIT")
    conn.close()


def row(path: Path, idx: int) -> tuple[str, bytes, bytes]:
    conn = sqlite3.connect(path)
    item_id, record, h = conn.execute(
        "SELECT item_id, record, hash FROM leaves WHERE idx=?", (idx,)
    ).fetchone()
    conn.close()
    return item_id, bytes(record), bytes(h)


def check(setup: LogSetup, *, witness: bool = False) -> VerificationReport:
    report = verify_log(
        setup.path,
        setup.signer.verifier,
        witness_state=setup.witness.directory if witness else None,
        witness_key=setup.witness.verifier if witness else None,
    )
    # Every case also goes through the command users run, `synthfactory audit verify`,
    # which must agree: exit 0 only for an intact log, 1 naming the problem otherwise.
    keys = setup.path.parent / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "log.pub").write_text(setup.signer.verifier.vkey() + "\n")
    (keys / "witness.pub").write_text(setup.witness.verifier.vkey() + "\n")
    args = ["verify", "--log", str(setup.path), "--key", str(keys / "log.pub"), "--no-dataset"]
    if witness:
        args += ["--witness", str(setup.witness.directory)]
        args += ["--witness-key", str(keys / "witness.pub")]
    result = CliRunner().invoke(audit_app, args)
    assert result.exit_code == (0 if report.ok else 1), result.output
    if report.problem is not None:
        assert report.problem.message in result.output
    return report


def test_untouched_log_verifies_with_and_without_witness(filled: LogSetup) -> None:
    for witness in (False, True):
        report = check(filled, witness=witness)
        assert report.ok, report
        assert report.records == 100 and report.checkpoints == 2
    assert check(filled, witness=True).witness_checkpoints == 2


def test_edited_bytes_in_the_file(filled: LogSetup) -> None:
    data = filled.path.read_bytes()
    assert data.count(b'"nonce":"rec-00042"') == 1
    filled.path.write_bytes(data.replace(b'"nonce":"rec-00042"', b'"nonce":"rec-00043"'))
    report = check(filled)
    assert report.problem is not None
    assert report.problem.kind == "leaf_hash_mismatch" and report.problem.record_index == 42
    assert "record 42 (item 'item-00042', step 'generate')" in report.problem.message


def test_edited_record_with_its_hash_recomputed(filled: LogSetup) -> None:
    _, record, _ = row(filled.path, 42)
    forged = record.replace(b'"cost":0.000125', b'"cost":0.0')
    tamper(
        filled.path,
        ("UPDATE leaves SET record=?, hash=? WHERE idx=42", (forged, leaf_hash(forged))),
    )
    problem = check(filled).problem
    assert problem is not None and problem.kind == "root_mismatch"
    assert problem.checkpoint_size == 50 and problem.record_index == 42
    assert "records 42..43" in problem.message


def test_deleted_record(filled: LogSetup) -> None:
    tamper(filled.path, ("DELETE FROM leaves WHERE idx=30", ()))
    problem = check(filled).problem
    assert problem is not None and problem.kind == "missing_record"
    assert problem.record_index == 30 and "next stored record is 31" in problem.message


def test_reordered_records(filled: LogSetup) -> None:
    a, b = row(filled.path, 10), row(filled.path, 11)
    tamper(
        filled.path,
        ("UPDATE leaves SET item_id=?, record=?, hash=? WHERE idx=10", b),
        ("UPDATE leaves SET item_id=?, record=?, hash=? WHERE idx=11", a),
    )
    problem = check(filled).problem
    assert problem is not None and problem.kind == "root_mismatch"
    assert problem.record_index == 10 and "records 10..11" in problem.message


def test_inserted_record(filled: LogSetup) -> None:
    extra = orjson.dumps(make_record(999).to_dict(), option=orjson.OPT_SORT_KEYS)
    tamper(
        filled.path,
        ("UPDATE leaves SET idx = -idx - 1 WHERE idx >= 20", ()),
        ("UPDATE leaves SET idx = -idx WHERE idx < 0", ()),  # shifted up by one
        ("INSERT INTO leaves VALUES (20, 'item-00999', ?, ?)", (extra, leaf_hash(extra))),
    )
    problem = check(filled).problem
    assert problem is not None and problem.kind == "root_mismatch"
    assert problem.record_index == 20 and "records 20..21" in problem.message


def test_truncated_tail(filled: LogSetup) -> None:
    tamper(filled.path, ("DELETE FROM leaves WHERE idx >= 80", ()))
    problem = check(filled).problem
    assert problem is not None and problem.kind == "truncated"
    assert problem.checkpoint_size == 100 and "only 80 records" in problem.message


def test_reencoded_record_same_meaning_other_bytes(filled: LogSetup) -> None:
    _, record, _ = row(filled.path, 5)
    loose = orjson.dumps(orjson.loads(record), option=orjson.OPT_INDENT_2)
    tamper(
        filled.path, ("UPDATE leaves SET record=?, hash=? WHERE idx=5", (loose, leaf_hash(loose)))
    )
    problem = check(filled).problem
    assert problem is not None and problem.kind == "record_not_canonical"
    assert problem.record_index == 5


def test_truncated_and_resigned_with_the_real_key_is_caught_by_the_witness(
    filled: LogSetup,
) -> None:
    tamper(
        filled.path,
        ("DELETE FROM leaves WHERE idx >= 60", ()),
        ("DELETE FROM nodes WHERE ((idx + 1) << level) > 60", ()),
        ("DELETE FROM checkpoints WHERE size > 60", ()),
    )
    with filled.open(witnessed=False) as log:  # the insider skips the witness
        assert log.checkpoint().size == 60
    # Without a witness the shortened log is self-consistent: the documented limitation.
    assert check(filled).ok
    problem = check(filled, witness=True).problem
    assert problem is not None and problem.kind == "rollback"
    assert "witness saw a signed checkpoint of size 100" in problem.message
    assert "only 60 records" in problem.message


def test_rolled_back_checkpoints_are_caught_by_the_witness(filled: LogSetup) -> None:
    tamper(filled.path, ("DELETE FROM checkpoints WHERE size = 100", ()))
    assert check(filled).ok  # records 50..99 just look unsigned
    problem = check(filled, witness=True).problem
    assert problem is not None and problem.kind == "rollback"


def test_rewritten_history_resigned_with_the_real_key_is_caught_by_the_witness(
    filled: LogSetup, tmp_path: Path
) -> None:
    forged_path = tmp_path / "forged.sqlite"
    with SqliteAuditLog(forged_path, filled.signer, origin=ORIGIN) as forged:
        forged.append(make_record(i) for i in range(48))
        forged.append(
            make_record(48, item="item-00007", attempt=a, step="verify", decision="reject")
            for a in (2, 3)
        )
        forged.checkpoint()
        forged.append(make_record(i) for i in range(50, 100))
        forged.checkpoint()
    filled.path.write_bytes(forged_path.read_bytes())
    assert check(filled).ok  # self-consistent and signed with the real key
    problem = check(filled, witness=True).problem
    assert problem is not None and problem.kind == "witness_mismatch"
    assert problem.checkpoint_size == 50 and "rewritten after it was witnessed" in problem.message
    # and the honest witness refuses to cosign the forged history
    with SqliteAuditLog(filled.path, filled.signer, witnesses=[filled.witness]) as log:
        log.append([make_record(100)])
        with pytest.raises(WitnessRefusedError, match="consistency proof fails"):
            log.checkpoint()


def test_whole_log_replaced_and_signed_with_another_key(filled: LogSetup, tmp_path: Path) -> None:
    evil = NoteSigner.generate(filled.signer.name)  # even under the same key name
    forged_path = tmp_path / "forged.sqlite"
    with SqliteAuditLog(forged_path, evil, origin=ORIGIN) as forged:
        forged.append(make_record(i) for i in range(100))
        forged.checkpoint()
    filled.path.write_bytes(forged_path.read_bytes())
    problem = check(filled).problem
    assert problem is not None and problem.kind == "bad_signature"
    assert "no signature by key" in problem.message and "another key" in problem.message


def test_swapped_checkpoint_signature(filled: LogSetup) -> None:
    conn = sqlite3.connect(filled.path)
    notes = dict(conn.execute("SELECT size, note FROM checkpoints").fetchall())
    conn.close()
    body50, _ = split_note(notes[50])
    sigs100 = notes[100][notes[100].rfind("\n\n") + 2 :]
    tamper(filled.path, ("UPDATE checkpoints SET note=? WHERE size=50", (body50 + "\n" + sigs100,)))
    problem = check(filled).problem
    assert problem is not None and problem.kind == "bad_signature"
    assert problem.checkpoint_size == 50 and "does not verify" in problem.message


def test_wrong_public_key(filled: LogSetup) -> None:
    report = verify_log(filled.path, NoteSigner.generate("someone.else").verifier)
    assert report.problem is not None and report.problem.kind == "bad_signature"


def test_forged_checkpoint_root(filled: LogSetup) -> None:
    fake = SignedCheckpoint.sign(ORIGIN, 100, b"\x07" * 32, NoteSigner.generate("x"))
    tamper(filled.path, ("UPDATE checkpoints SET note=? WHERE size=100", (fake.note,)))
    problem = check(filled).problem
    assert problem is not None and problem.kind == "bad_signature"
    assert problem.checkpoint_size == 100


@pytest.mark.parametrize("cut", [200, 4096, 20_000])
def test_a_truncated_file_is_named_as_damaged(filled: LogSetup, cut: int) -> None:
    """A torn write or a partial copy: the file loses its last bytes. The records may all
    still read (the lost pages held an index or free space); SQLite's integrity check finds
    it before any record is trusted, and the message names the file."""
    size = filled.path.stat().st_size
    assert size > cut
    with open(filled.path, "r+b") as handle:
        handle.truncate(size - cut)
    report = check(filled)
    assert report.problem is not None and report.problem.kind in {"damaged", "unreadable"}
    assert str(filled.path) in report.problem.message
