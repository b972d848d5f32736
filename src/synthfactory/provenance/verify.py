"""The offline verifier: recompute the whole log and hold it against its signed checkpoints.

:func:`verify_log` needs only the log file and the public key (plus, to catch rollback and
re-signing, a witness's state). It streams every record once, in O(log n) memory:

1. every checkpoint stored in the log carries a valid signature by the pinned key and the
   log's origin; so does every checkpoint the witness kept (and its cosignature, if the
   witness's key is given);
2. record indices run 0, 1, 2, ... without a gap; each record is canonical JSON of a
   provenance record whose item id matches its row; its bytes hash to the stored leaf hash;
3. the tree recomputed from the records has, at every checkpoint's size, that checkpoint's
   root. Every checkpoint is checked against one recomputed leaf sequence, which proves each
   later checkpoint is consistent with every earlier one;
4. no checkpoint (the log's or the witness's) is larger than the log, and the log's newest
   checkpoint is not older than the witness's.

Before any record is read, the file's size and SQLite's integrity check are checked: a torn
or truncated file is reported as ``damaged``, naming it. The report names the first problem
found: its kind, the record index or checkpoint size, and what differs. When a root differs
while every record matches its stored leaf hash (the hashes were rewritten too), the stored
interior nodes, written when the records were appended, locate the first changed range of
records. Without a witness, a log truncated back
to an earlier genuine checkpoint, or rewritten and re-signed by an insider with the real key,
is self-consistent and passes: that is what the witness is for.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from synthfactory.provenance.canonical import dumps_normalized
from synthfactory.provenance.checkpoint import SignedCheckpoint
from synthfactory.provenance.errors import NoteError
from synthfactory.provenance.log import open_readonly
from synthfactory.provenance.merkle import EMPTY_ROOT, CompactRange, leaf_hash
from synthfactory.provenance.note import NoteVerifier, load_verifier
from synthfactory.provenance.record import RECORD_VERSION
from synthfactory.provenance.witness import read_witness_state
from synthfactory.sqlite_files import file_damage

PROBLEM_KINDS = (
    "unreadable",
    "damaged",
    "bad_signature",
    "origin_mismatch",
    "missing_record",
    "record_not_canonical",
    "record_malformed",
    "leaf_hash_mismatch",
    "root_mismatch",
    "truncated",
    "no_checkpoint",
    "witness_bad_signature",
    "witness_mismatch",
    "rollback",
)


@dataclass(frozen=True)
class Problem:
    """The first inconsistency found: its kind (one of :data:`PROBLEM_KINDS`) and where."""

    kind: str
    message: str
    record_index: int | None = None
    checkpoint_size: int | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class VerificationReport:
    """What :func:`verify_log` found. ``ok`` only when ``problem`` is None."""

    records: int
    checkpoints: int
    witness_checkpoints: int
    latest_size: int
    root: bytes
    seconds: float
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        """True when the log, its checkpoints and the witness agree."""
        return self.problem is None

    @property
    def unsigned_tail(self) -> int:
        """Records after the newest checkpoint (normal while a run is in progress)."""
        return self.records - self.latest_size

    def __str__(self) -> str:
        if self.problem is not None:
            return f"FAILED: {self.problem}"
        witness = f", {self.witness_checkpoints} witnessed" if self.witness_checkpoints else ""
        return (
            f"OK: {self.records} records, {self.checkpoints} checkpoints{witness}, newest at "
            f"size {self.latest_size} ({self.unsigned_tail} records not yet checkpointed), "
            f"verified in {self.seconds:.2f} s"
        )


class _FailedError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def verify_log(
    path: str | os.PathLike[str],
    public_key: NoteVerifier | str | os.PathLike[str],
    *,
    witness_state: str | os.PathLike[str] | None = None,
    witness_key: NoteVerifier | str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Verify the audit log at ``path`` against ``public_key``; see the module docstring.

    ``witness_state`` is a :class:`~synthfactory.provenance.DirectoryWitness` directory;
    ``witness_key`` its public key, to require its cosignature on what it stored.
    Raises only for unusable input (no file, unreadable key); tampering is reported.
    """
    started = time.perf_counter()
    key = load_verifier(public_key)
    wkey = None if witness_key is None else load_verifier(witness_key)
    conn = open_readonly(Path(path))
    state = _State()
    try:
        _check_file(conn, Path(path))
        _verify(conn, key, witness_state, wkey, state)
        problem = None
    except _FailedError as failed:
        problem = failed.problem
    except sqlite3.DatabaseError as err:
        problem = Problem("unreadable", f"{path} cannot be read as SQLite: {err}")
    finally:
        conn.close()
    return VerificationReport(
        records=state.records,
        checkpoints=state.checkpoints,
        witness_checkpoints=state.witnessed,
        latest_size=state.latest_size,
        root=state.root,
        seconds=time.perf_counter() - started,
        problem=problem,
    )


def _check_file(conn: sqlite3.Connection, path: Path) -> None:
    """SQLite's own integrity check, before any record is trusted. A torn or truncated file
    can leave every page the records live on readable (the lost bytes held free pages or an
    index), so the chain would verify while the database is malformed."""
    damage = file_damage(conn, path, full=True)
    if damage is None:
        return
    said = f": {damage}" if damage.torn else f" ({damage})"
    raise _FailedError(
        Problem(
            "damaged",
            f"{path} is damaged{said}; restore it from a backup or a copy, then verify again",
        )
    )


@dataclass
class _State:
    records: int = 0
    checkpoints: int = 0
    witnessed: int = 0
    latest_size: int = 0
    root: bytes = EMPTY_ROOT


@dataclass(frozen=True)
class _Target:
    size: int
    root: bytes
    source: str  # "checkpoint" or "witness"


def _verify(
    conn: sqlite3.Connection,
    key: NoteVerifier,
    witness_state: str | os.PathLike[str] | None,
    wkey: NoteVerifier | None,
    state: _State,
) -> None:
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    origin = str(meta.get("origin", ""))
    targets: list[_Target] = []

    for size, note in conn.execute("SELECT size, note FROM checkpoints ORDER BY size"):
        try:
            cp = SignedCheckpoint.parse(note, key)
        except NoteError as err:
            hint = ""
            pinned = str(meta.get("public_key", ""))
            if pinned and pinned != key.vkey():
                hint = f" (the log names key {pinned.split('+', maxsplit=1)[0]!r}, another key)"
            raise _FailedError(
                Problem("bad_signature", f"checkpoint at size {size}: {err}{hint}", None, size)
            ) from None
        if cp.origin != origin or cp.size != size:
            raise _FailedError(
                Problem(
                    "origin_mismatch",
                    f"checkpoint stored at size {size} says origin {cp.origin!r} size "
                    f"{cp.size}; the log is {origin!r}",
                    None,
                    size,
                )
            )
        targets.append(_Target(cp.size, cp.root, "checkpoint"))
        state.checkpoints += 1
        state.latest_size = cp.size

    witnessed: list[SignedCheckpoint] = []
    if witness_state is not None:
        for note in read_witness_state(witness_state, origin):
            try:
                cp = SignedCheckpoint.parse(note, key)
                if wkey is not None:
                    SignedCheckpoint.parse(note, wkey)
            except NoteError as err:
                raise _FailedError(
                    Problem("witness_bad_signature", f"a witnessed checkpoint: {err}")
                ) from None
            witnessed.append(cp)
            targets.append(_Target(cp.size, cp.root, "witness"))
        state.witnessed = len(witnessed)

    count = _stream(conn, targets, state)

    for t in targets:
        if t.size > count:
            kind = "rollback" if t.source == "witness" else "truncated"
            who = "the witness saw" if t.source == "witness" else "the log holds"
            raise _FailedError(
                Problem(
                    kind,
                    f"{who} a signed checkpoint of size {t.size}, but the log has only {count} "
                    f"records: records {count}..{t.size - 1} were removed",
                    count,
                    t.size,
                )
            )
    if witnessed and witnessed[-1].size > state.latest_size:
        raise _FailedError(
            Problem(
                "rollback",
                f"the witness saw a checkpoint of size {witnessed[-1].size}, newer than the "
                f"log's newest ({state.latest_size}): the log's checkpoints were rolled back",
                None,
                witnessed[-1].size,
            )
        )
    if count and not state.checkpoints:
        raise _FailedError(Problem("no_checkpoint", f"{count} records and no signed checkpoint"))


def _stream(conn: sqlite3.Connection, targets: Sequence[_Target], state: _State) -> int:
    by_size: dict[int, list[_Target]] = {}
    for t in targets:
        by_size.setdefault(t.size, []).append(t)
    frontier = CompactRange()
    expected = 0
    _check_size(conn, frontier, by_size.get(0, []))
    rows = conn.execute("SELECT idx, item_id, record, hash FROM leaves ORDER BY idx")
    for idx, item_id, raw, stored in rows:
        if idx != expected:
            raise _FailedError(
                Problem(
                    "missing_record",
                    f"record {expected} is missing (the next stored record is {idx})",
                    expected,
                )
            )
        if not isinstance(raw, bytes):
            # Records are stored as BLOBs; anything else was written by something other
            # than this log (an edit through SQL turns a BLOB into TEXT, for one).
            raise _FailedError(
                Problem(
                    "tampered_record",
                    f"record {idx} is stored as {type(raw).__name__}, not as the bytes "
                    "the log wrote: it was edited",
                    idx,
                )
            )
        data = bytes(raw)
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as err:
            raise _FailedError(
                Problem("record_malformed", f"record {idx} is not JSON: {err}", idx)
            ) from None
        if dumps_normalized(obj) != data:
            raise _FailedError(
                Problem(
                    "record_not_canonical",
                    f"record {idx} is not in canonical JSON form (same meaning, other bytes)",
                    idx,
                )
            )
        if not isinstance(obj, dict) or obj.get("v") != RECORD_VERSION or not obj.get("item_id"):
            raise _FailedError(
                Problem("record_malformed", f"record {idx} is not a provenance record", idx)
            )
        if obj["item_id"] != item_id:
            raise _FailedError(
                Problem(
                    "record_malformed",
                    f"record {idx} is of item {obj['item_id']!r} but filed under {item_id!r}",
                    idx,
                )
            )
        h = leaf_hash(data)
        if h != bytes(stored):
            raise _FailedError(
                Problem(
                    "leaf_hash_mismatch",
                    f"record {idx} (item {item_id!r}, step {obj.get('step')!r}) does not hash "
                    "to its stored leaf hash: its bytes were changed",
                    idx,
                )
            )
        frontier.append(h)
        expected += 1
        state.records = expected
        if expected in by_size:
            _check_size(conn, frontier, by_size[expected])
    state.root = frontier.root()
    return expected


def _check_size(conn: sqlite3.Connection, frontier: CompactRange, targets: list[_Target]) -> None:
    root = frontier.root()
    for t in targets:
        if root != t.root:
            where = _locate_change(conn, t.size)
            if t.source == "witness":
                msg = (
                    f"the log's records 0..{t.size - 1} no longer hash to the root the witness "
                    f"saw at size {t.size}: history was rewritten after it was witnessed"
                )
                problem = Problem("witness_mismatch", f"{msg}; {where[1]}", where[0], t.size)
                raise _FailedError(problem)
            msg = f"records 0..{t.size - 1} do not hash to the signed root of checkpoint {t.size}"
            raise _FailedError(Problem("root_mismatch", f"{msg}; {where[1]}", where[0], t.size))


def _locate_change(conn: sqlite3.Connection, size: int) -> tuple[int | None, str]:
    """Find the first stored interior node that the records no longer reproduce."""
    found: list[tuple[int, int]] = []

    def compare(level: int, idx: int, h: bytes) -> None:
        if found:
            return
        row = conn.execute(
            "SELECT hash FROM nodes WHERE level=? AND idx=?", (level, idx)
        ).fetchone()
        if row is None or bytes(row[0]) != h:
            found.append((level, idx))

    frontier = CompactRange(on_node=compare)
    rows = conn.execute("SELECT record FROM leaves ORDER BY idx LIMIT ?", (size,))
    for (data,) in rows:
        frontier.append(leaf_hash(bytes(data)))
        if found:
            level, idx = found[0]
            first, last = idx << level, ((idx + 1) << level) - 1
            return first, (
                f"the first changed, inserted, removed or reordered record is among records "
                f"{first}..{last} (their tree node differs from the one stored at append time)"
            )
    return None, (
        "the stored tree was rewritten consistently with the records, so the changed record "
        "cannot be located without an older copy (a receipt or a witness)"
    )


__all__ = ["PROBLEM_KINDS", "Problem", "VerificationReport", "verify_log"]
