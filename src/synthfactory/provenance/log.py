"""The audit log: an append-only Merkle tree of provenance records in one SQLite file.

::

    WORKSPACE/audit/log.sqlite
      meta          origin, the pinned public key, format version
      leaves        idx, item_id, record (canonical JSON bytes), leaf hash   -- append-only
      nodes         (level, idx) -> hash of every complete subtree, level >= 1 -- append-only
      checkpoints   size -> signed note (with any witness cosignatures)

Appends are buffered and committed in batches (one transaction, one fsync per batch); a
record is durable once :meth:`SqliteAuditLog.flush` returns. Each commit writes the batch's
leaves and the interior nodes they complete in one transaction, so a kill -9 at any moment
leaves a prefix of whole batches that verifies. Triggers refuse UPDATE and DELETE on the
leaves and nodes: that stops accidents, not an attacker with the file, whom the signed
checkpoints (and a witness) catch.

Storing the hash of every complete subtree (about one node per leaf) makes every subtree an
inclusion or consistency proof needs one indexed lookup, or O(log n) lookups on the tree's
ragged right edge: a proof at 1e6 records costs a few hundred point reads, well under 10 ms.

Several writers may share one log (two runs on one workspace, each in its own process).
SQLite's write lock orders their commits: a writer whose log grew under it since its last
commit re-bases its buffered records after the others' (new indices, its frontier reloaded
from the stored nodes) inside the same transaction, and signs a checkpoint only while holding
that lock, at the log's full size, so checkpoints (and what a witness sees) only grow.
Indices :meth:`SqliteAuditLog.append` returns are therefore provisional until
:meth:`~SqliteAuditLog.flush`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import orjson

from synthfactory.cache import connect
from synthfactory.errors import NotFoundError, WorkspaceError
from synthfactory.provenance.bundle import make_bundle
from synthfactory.provenance.canonical import dumps_normalized
from synthfactory.provenance.checkpoint import SignedCheckpoint
from synthfactory.provenance.errors import (
    ConcurrentWriterError,
    NotCheckpointedError,
    NoteError,
)
from synthfactory.provenance.guard import SecretGuard
from synthfactory.provenance.merkle import (
    EMPTY_ROOT,
    CompactRange,
    compact_range_positions,
    consistency_path,
    inclusion_path,
    leaf_hash,
    node_hash,
    split_point,
)
from synthfactory.provenance.note import NoteSigner, NoteVerifier
from synthfactory.provenance.record import ProvenanceRecord
from synthfactory.provenance.witness import Witness
from synthfactory.sqlite_files import open_readonly

FORMAT_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leaves (
    idx INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL,
    record BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS leaves_by_item ON leaves (item_id);
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS leaves_append_only_u BEFORE UPDATE ON leaves
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS leaves_append_only_d BEFORE DELETE ON leaves
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS nodes_append_only_u BEFORE UPDATE ON nodes
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS nodes_append_only_d BEFORE DELETE ON nodes
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``index`` (hash ``leaf``) is in the tree of ``size`` leaves: the audit path."""

    index: int
    size: int
    leaf: bytes
    path: tuple[bytes, ...]


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``old`` leaves is a prefix of the tree of ``new`` leaves."""

    old: int
    new: int
    path: tuple[bytes, ...]


@runtime_checkable
class AuditLog(Protocol):
    """An append-only, tamper-evident log of provenance records."""

    def append(self, records: Iterable[ProvenanceRecord]) -> list[int]:
        """Queue records; returns their leaf indices. Durable after the next flush."""
        ...

    def checkpoint(self) -> SignedCheckpoint:
        """Commit, then sign (and have witnesses cosign) the current tree head."""
        ...

    def proof(self, index: int, size: int | None = None) -> InclusionProof:
        """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        ...

    def consistency(self, old: int, new: int | None = None) -> ConsistencyProof:
        """The consistency proof from tree size ``old`` to ``new``."""
        ...


class SqliteAuditLog:
    """The audit log of one workspace, in one SQLite file (WAL).

    ``signer`` signs checkpoints (not needed to read, explain or export); ``origin`` names
    the log in its checkpoints and is required when the file is new, e.g.
    ``"synthfactory/<workspace id>"``. ``witnesses`` are asked to cosign every checkpoint.
    ``batch_size`` buffered records trigger a commit on their own. ``known_secrets`` are
    exact values (the run's API keys) the secret guard refuses on top of its patterns.
    """

    def __init__(
        self,
        path: str | Path,
        signer: NoteSigner | None = None,
        *,
        origin: str | None = None,
        witnesses: Sequence[Witness] = (),
        batch_size: int = 1024,
        known_secrets: Iterable[str] = (),
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path)
        # FULL: every commit is fsynced, so "durable once flush() returns" holds across a
        # power cut too; batching keeps it to one fsync per batch.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._signer = signer
        self._witnesses = tuple(witnesses)
        self._batch_size = max(1, batch_size)
        self._guard = SecretGuard(known_secrets)
        self.origin = self._init_meta(origin)
        self.verifier = self._pinned_key()
        self._committed = self._stored_size()
        self._size = self._committed
        self._pending_leaves: list[tuple[int, str, bytes, bytes]] = []
        self._pending_nodes: list[tuple[int, int, bytes]] = []
        self._frontier = self._load_frontier(self._size)
        self.rebases = 0  # commits that found the log grown by another writer

    # -- setup -------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _init_meta(self, origin: str | None) -> str:
        version = self._meta("format")
        if version is not None and int(version) > FORMAT_VERSION:
            raise WorkspaceError(
                f"audit log {self.path} has format {version}, newer than this synthfactory "
                f"reads ({FORMAT_VERSION}); upgrade: pip install -U synthfactory"
            )
        stored = self._meta("origin")
        if stored is None:
            if not origin or "\n" in origin:
                raise NoteError(f"a new audit log needs a one-line origin ({self.path})")
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('format', ?)", (str(FORMAT_VERSION),)
                )
                self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('origin', ?)", (origin,))
            return origin
        if origin is not None and origin != stored:
            raise NoteError(f"audit log {self.path} has origin {stored!r}, not {origin!r}")
        return stored

    def _pinned_key(self) -> NoteVerifier | None:
        stored = self._meta("public_key")
        if self._signer is None:
            return None if stored is None else NoteVerifier.from_vkey(stored)
        mine = self._signer.verifier
        if stored is None:
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('public_key', ?)", (mine.vkey(),)
            )
        elif stored != mine.vkey():
            raise NoteError(
                f"audit log {self.path} is signed by key {stored.split('+')[0]!r} "
                f"({stored.split('+')[1]}), not by {mine.name!r} ({mine.key_id.hex()})"
            )
        return mine

    def _load_frontier(self, size: int) -> CompactRange:
        return CompactRange(
            [(level, self._node(level, idx)) for level, idx in compact_range_positions(size)],
            size,
            on_node=self._on_node,
        )

    def _rebase(self, stored: int) -> None:
        """Another writer committed up to ``stored``: put the buffered records after its
        (inside the caller's write transaction, so the stored tree cannot move meanwhile)."""
        pending = [(item_id, data, h) for _, item_id, data, h in self._pending_leaves]
        self._pending_leaves.clear()
        self._pending_nodes.clear()
        self._committed = self._size = stored
        self._frontier = self._load_frontier(stored)
        for item_id, data, h in pending:
            self._pending_leaves.append((self._size, item_id, data, h))
            self._frontier.append(h)
            self._size += 1
        self.rebases += 1

    def _stored_size(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM leaves").fetchone()
        return int(row[0])

    # -- writing -----------------------------------------------------------------------

    def _on_node(self, level: int, idx: int, h: bytes) -> None:
        self._pending_nodes.append((level, idx, h))

    def append(self, records: Iterable[ProvenanceRecord]) -> list[int]:
        """Queue records (secret-checked, canonically encoded, hashed); their leaf indices.

        Durable after the next :meth:`flush` (which runs by itself every ``batch_size``).
        """
        indices = []
        for record in records:
            data_obj = record.to_dict()
            data = dumps_normalized(data_obj)
            self._guard.check_encoded(data, data_obj)
            h = leaf_hash(data)
            index = self._size
            self._pending_leaves.append((index, record.item_id, data, h))
            self._frontier.append(h)
            self._size += 1
            indices.append(index)
            if len(self._pending_leaves) >= self._batch_size:
                self.flush()
        return indices

    def flush(self) -> None:
        """Commit every buffered record in one transaction (one fsync)."""
        if not self._pending_leaves:
            return
        try:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                stored = self._stored_size()
                if stored < self._committed:
                    raise ConcurrentWriterError(
                        f"audit log {self.path} shrank under this writer ({stored} records, "
                        f"{self._committed} committed by this process): it was truncated or "
                        "replaced; run `synthfactory audit verify`"
                    )
                if stored != self._committed:
                    self._rebase(stored)
                self._conn.executemany("INSERT INTO leaves VALUES (?,?,?,?)", self._pending_leaves)
                self._conn.executemany("INSERT INTO nodes VALUES (?,?,?)", self._pending_nodes)
        except (sqlite3.Error, OSError):
            # The transaction rolled back (a full disk, say): the buffered records are lost,
            # and the log in memory becomes the log on disk again, so that it never signs a
            # tree the disk does not hold. The caller hears of it from the error.
            self._pending_leaves.clear()
            self._pending_nodes.clear()
            self._size = self._committed
            self._frontier = self._load_frontier(self._committed)
            raise
        self._committed = self._size
        self._pending_leaves.clear()
        self._pending_nodes.clear()

    def checkpoint(self) -> SignedCheckpoint:
        """Commit, sign the tree head, have every witness cosign it, and store it.

        A witness's refusal (:class:`WitnessRefusedError`) propagates after the log's own
        signed checkpoint is stored: the refusal means someone must look at this log.
        """
        self.flush()
        if self._signer is None:
            raise NoteError(f"audit log {self.path} was opened without a signing key")
        # Signed and cosigned under the write lock, at the log's full size: with several
        # writers, a checkpoint can then never be older than one a witness already holds.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            stored = self._stored_size()
            if stored != self._committed:
                self._rebase(stored)  # nothing is buffered after the flush: a reload
            size = self._committed
            cp = SignedCheckpoint.sign(self.origin, size, self._frontier.root(), self._signer)
            self._store_checkpoint(cp)
            for witness in self._witnesses:
                old = witness.latest_size(self.origin)
                proof = consistency_path(old, size, self._subtree) if old <= size else []
                # The log's own checkpoint is kept even if a witness refuses (it raises).
                cp = cp.with_note(witness.submit(cp.note, old, proof))
                self._store_checkpoint(cp)
        finally:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error:
                # A COMMIT that failed (a full disk) may leave the transaction open, and
                # every later BEGIN would fail on it.
                if self._conn.in_transaction:
                    self._conn.rollback()
                raise
        return cp

    def _store_checkpoint(self, cp: SignedCheckpoint) -> None:
        """Inside :meth:`checkpoint`'s transaction."""
        self._conn.execute(
            "INSERT OR REPLACE INTO checkpoints VALUES (?,?,?)", (cp.size, cp.note, time.time())
        )

    # -- proofs ------------------------------------------------------------------------

    def _node(self, level: int, idx: int) -> bytes:
        if level == 0:
            row = self._conn.execute("SELECT hash FROM leaves WHERE idx=?", (idx,)).fetchone()
        else:
            row = self._conn.execute(
                "SELECT hash FROM nodes WHERE level=? AND idx=?", (level, idx)
            ).fetchone()
        if row is None:
            raise NoteError(f"audit log {self.path} lacks tree node ({level}, {idx}): corrupt")
        return bytes(row[0])

    def _subtree(self, start: int, end: int) -> bytes:
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            return self._node(level, start >> level)
        k = split_point(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    @property
    def size(self) -> int:
        """Records appended so far, committed or buffered."""
        return self._size

    def root(self, size: int | None = None) -> bytes:
        """The tree hash at ``size`` (default: every committed record)."""
        self.flush()
        size = self._committed if size is None else size
        if not 0 <= size <= self._committed:
            raise ValueError(f"no tree of size {size}; the log has {self._committed} records")
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def proof(self, index: int, size: int | None = None) -> InclusionProof:
        """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves (default: all)."""
        self.flush()
        size = self._committed if size is None else size
        if size > self._committed:
            raise ValueError(f"no tree of size {size}; the log has {self._committed} records")
        path = inclusion_path(index, size, self._subtree)
        return InclusionProof(index, size, self._node(0, index), tuple(path))

    def consistency(self, old: int, new: int | None = None) -> ConsistencyProof:
        """The consistency proof from tree size ``old`` to ``new`` (default: all)."""
        self.flush()
        new = self._committed if new is None else new
        if new > self._committed:
            raise ValueError(f"no tree of size {new}; the log has {self._committed} records")
        return ConsistencyProof(old, new, tuple(consistency_path(old, new, self._subtree)))

    # -- reading -----------------------------------------------------------------------

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every stored checkpoint, oldest first, each verified against the pinned key."""
        if self.verifier is None:
            raise NoteError(f"audit log {self.path} has no pinned public key yet")
        rows = self._conn.execute("SELECT note FROM checkpoints ORDER BY size").fetchall()
        return [SignedCheckpoint.parse(r[0], self.verifier) for r in rows]

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The newest stored checkpoint, or None."""
        cps = self.checkpoints() if self.verifier is not None else []
        return cps[-1] if cps else None

    def records_for(self, item_id: str) -> list[tuple[int, ProvenanceRecord]]:
        """``(leaf index, record)`` of every committed record of ``item_id``, in order."""
        self.flush()
        rows = self._conn.execute(
            "SELECT idx, record FROM leaves WHERE item_id=? ORDER BY idx", (item_id,)
        ).fetchall()
        return [(int(i), ProvenanceRecord.from_dict(orjson.loads(r))) for i, r in rows]

    def iter_records(self) -> Iterator[tuple[int, bytes]]:
        """``(leaf index, canonical bytes)`` of every committed record, in order."""
        self.flush()
        for idx, data in self._conn.execute("SELECT idx, record FROM leaves ORDER BY idx"):
            yield int(idx), bytes(data)

    def export_bundle(self, item_id: str) -> dict[str, Any]:
        """The item's records with inclusion proofs against the latest signed checkpoint.

        The bundle needs nothing else to be checked (:func:`verify_bundle`); pin the public
        key from the run manifest when checking it, since a bundle's own key proves nothing
        about who made it.
        """
        self.flush()
        rows = self._conn.execute(
            "SELECT idx, record, hash FROM leaves WHERE item_id=? ORDER BY idx", (item_id,)
        ).fetchall()
        if not rows:
            raise NotFoundError(f"no provenance record of item {item_id!r} in {self.path}")
        cp = self.latest_checkpoint()
        last = int(rows[-1][0])
        if cp is None or cp.size <= last:
            raise NotCheckpointedError(
                f"item {item_id!r} has records past the latest checkpoint "
                f"({'none' if cp is None else cp.size}); checkpoint the log first",
                item_id=item_id,
            )
        assert self.verifier is not None  # a checkpoint was parsed with it
        entries = [
            (int(i), bytes(r), inclusion_path(int(i), cp.size, self._subtree)) for i, r, _ in rows
        ]
        return make_bundle(item_id, entries, cp, self.verifier)

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self._conn.close()

    def __enter__(self) -> SqliteAuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = [
    "FORMAT_VERSION",
    "AuditLog",
    "ConsistencyProof",
    "InclusionProof",
    "SqliteAuditLog",
    "open_readonly",
]
