"""The SQLite audit log: batching, proofs against an in-memory tree, reopening, bundles."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from synthfactory.errors import NotFoundError
from synthfactory.provenance import (
    AuditLog,
    ConcurrentWriterError,
    MemoryTree,
    NotCheckpointedError,
    NoteError,
    NoteSigner,
    ProvenanceRecord,
    SqliteAuditLog,
    canonical_json,
    digest,
    explain,
    verify_bundle,
    verify_consistency,
    verify_inclusion,
    verify_log,
)

from .conftest import ORIGIN, LogSetup, make_record

Factory = Callable[..., ProvenanceRecord]


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM leaves").fetchone()[0])
    finally:
        conn.close()


def test_sqlite_log_is_an_audit_log(tmp_path: Path, signer: NoteSigner) -> None:
    log = SqliteAuditLog(tmp_path / "log.sqlite", signer, origin=ORIGIN)
    assert isinstance(log, AuditLog)
    log.close()


def test_appends_are_buffered_until_flush(tmp_path: Path, signer: NoteSigner) -> None:
    path = tmp_path / "log.sqlite"
    log = SqliteAuditLog(path, signer, origin=ORIGIN, batch_size=10)
    assert log.append(make_record(i) for i in range(7)) == list(range(7))
    assert _count(path) == 0  # buffered, not yet committed
    log.append(make_record(i) for i in range(7, 12))
    assert _count(path) == 10  # a full batch committed itself
    log.flush()
    assert _count(path) == 12
    log.close()


def test_proofs_match_an_in_memory_tree_at_every_size(tmp_path: Path, signer: NoteSigner) -> None:
    log = SqliteAuditLog(tmp_path / "log.sqlite", signer, origin=ORIGIN, batch_size=7)
    records = [make_record(i) for i in range(37)]
    log.append(records)
    tree = MemoryTree()
    for r in records:
        tree.append(canonical_json(r.to_dict()))
    for size in range(0, 38):
        assert log.root(size) == tree.root(size)
    for size in (1, 2, 5, 16, 17, 31, 37):
        for index in range(size):
            proof = log.proof(index, size)
            assert list(proof.path) == tree.inclusion(index, size)
            assert verify_inclusion(index, size, proof.leaf, proof.path, tree.root(size))
        for old in range(0, size + 1):
            c = log.consistency(old, size)
            assert verify_consistency(old, size, tree.root(old), tree.root(size), c.path)
    log.close()


def test_reopening_continues_the_same_tree(tmp_path: Path, signer: NoteSigner) -> None:
    path = tmp_path / "log.sqlite"
    tree = MemoryTree()
    for part in range(4):
        log = SqliteAuditLog(path, signer, origin=ORIGIN, batch_size=4)
        for i in range(part * 11, part * 11 + 11):
            record = make_record(i)
            log.append([record])
            tree.append(canonical_json(record.to_dict()))
        cp = log.checkpoint()
        assert cp.size == len(tree.leaves) and cp.root == tree.root()
        log.close()
    report = verify_log(path, signer.verifier)
    assert report.ok, report
    assert report.records == 44 and report.checkpoints == 4 and report.root == tree.root()


def test_log_refuses_another_key_or_origin(tmp_path: Path, signer: NoteSigner) -> None:
    path = tmp_path / "log.sqlite"
    log = SqliteAuditLog(path, signer, origin=ORIGIN)
    log.append([make_record(0)])
    log.checkpoint()
    with pytest.raises(NoteError, match="is signed by key"):
        SqliteAuditLog(path, NoteSigner.generate("intruder"), origin=ORIGIN)
    with pytest.raises(NoteError, match="has origin"):
        SqliteAuditLog(path, signer, origin="elsewhere")


def test_two_writers_on_one_log_interleave_and_it_verifies(
    tmp_path: Path, signer: NoteSigner
) -> None:
    """Two runs on one workspace: two processes append to one log. Each commit lands after
    the other's (re-based under SQLite's write lock), each checkpoint is at the full size,
    and the whole log verifies with every record in it exactly once."""
    path = tmp_path / "log.sqlite"
    first = SqliteAuditLog(path, signer, origin=ORIGIN, batch_size=1000)
    second = SqliteAuditLog(path, signer, origin=ORIGIN, batch_size=1000)
    for i in range(0, 60, 2):
        first.append([make_record(i)])
        second.append([make_record(i + 1)])
        if i % 6 == 0:
            first.flush()
        if i % 10 == 0:
            second.checkpoint()
    first.checkpoint()
    second.checkpoint()
    assert first.rebases > 0 and second.rebases > 0  # both really found the log grown
    first.close()
    second.close()
    report = verify_log(path, signer.verifier)
    assert report.ok, report
    assert report.records == 60 and report.latest_size == 60
    conn = sqlite3.connect(path)
    items = [row[0] for row in conn.execute("SELECT item_id FROM leaves ORDER BY idx")]
    conn.close()
    assert sorted(items) == [f"item-{i:05d}" for i in range(60)]


def test_a_log_that_shrank_under_its_writer_is_refused(tmp_path: Path, signer: NoteSigner) -> None:
    path = tmp_path / "log.sqlite"
    log = SqliteAuditLog(path, signer, origin=ORIGIN)
    log.append([make_record(0), make_record(1)])
    log.flush()
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS leaves_append_only_d")
    conn.execute("DELETE FROM leaves WHERE idx = 1")
    conn.commit()
    conn.close()
    log.append([make_record(2)])
    with pytest.raises(ConcurrentWriterError, match="shrank under this writer"):
        log.flush()


def test_leaves_are_append_only_in_sqlite(filled: LogSetup) -> None:
    conn = sqlite3.connect(filled.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE leaves SET record = x'00' WHERE idx = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM leaves WHERE idx = 3")
    conn.close()


def test_bundle_verifies_offline_and_detects_edits(filled: LogSetup) -> None:
    with filled.open() as log:
        bundle = log.export_bundle("item-00007")
        story = explain(log.records_for("item-00007"))
    # a round trip through JSON text: what a third party receives
    received = orjson.loads(orjson.dumps(bundle))
    report = verify_bundle(received, public_key=filled.signer.verifier)
    assert report.ok, report
    assert report.records == 3 and report.checkpoint_size == 100
    assert verify_bundle(received, witness_keys=[filled.witness.verifier]).ok
    assert "step 'verify' attempt 3" in story and "outcome: ACCEPT" in story

    edited = orjson.loads(orjson.dumps(bundle))
    edited["records"][1]["record"]["usage"]["cost"] = 0.0
    report = verify_bundle(edited)
    assert not report.ok and "record #1 (leaf 48" in str(report.problem)

    reproofed = orjson.loads(orjson.dumps(bundle))
    reproofed["records"][0]["proof"][0] = reproofed["records"][0]["proof"][1]
    assert "record #0" in str(verify_bundle(reproofed).problem)

    other_item = orjson.loads(orjson.dumps(bundle))
    other_item["item_id"] = "item-00008"
    assert "belongs to item" in str(verify_bundle(other_item).problem)

    resized = orjson.loads(orjson.dumps(bundle))
    resized["checkpoint"] = resized["checkpoint"].replace("\n100\n", "\n101\n")
    assert "does not verify" in str(verify_bundle(resized).problem)

    stranger = NoteSigner.generate("stranger")
    assert "not by the pinned public key" in str(
        verify_bundle(received, public_key=stranger.verifier).problem
    )
    assert not verify_bundle(received, witness_keys=[stranger.verifier]).ok


def test_bundle_needs_a_checkpoint_and_a_known_item(log_setup: LogSetup) -> None:
    with log_setup.open() as log:
        log.append([make_record(0)])
        with pytest.raises(NotCheckpointedError):
            log.export_bundle("item-00000")
        log.checkpoint()
        assert log.export_bundle("item-00000")["records"][0]["index"] == 0
        with pytest.raises(NotFoundError):
            log.export_bundle("no-such-item")


def test_erasing_content_keeps_proofs_valid(log_setup: LogSetup) -> None:
    """Records hold digests: deleting an example's content breaks no proof."""
    content_store = {f"item-{i:05d}": {"greeting": f"Hello, user {i}!"} for i in range(20)}
    with log_setup.open() as log:
        log.append(
            make_record(i, output_digest=digest(content_store[f"item-{i:05d}"])) for i in range(20)
        )
        log.checkpoint()
        bundle = log.export_bundle("item-00005")
    record = ProvenanceRecord.from_dict(bundle["records"][0]["record"])
    assert record.output_digest == digest(content_store["item-00005"])  # content still matches

    del content_store["item-00005"]  # the erasure request
    assert log_setup.path.read_bytes().find(b"Hello, user 5!") == -1  # never stored
    assert verify_bundle(bundle, public_key=log_setup.signer.verifier).ok
    assert verify_log(log_setup.path, log_setup.signer.verifier).ok
