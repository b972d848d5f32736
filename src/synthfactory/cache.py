"""The response cache: never pay twice for the same model call.

Content-addressed on :meth:`ChatRequest.key` (model id, messages, every sampling parameter,
seed, response format), shared by every run in a workspace.

Durable on receipt: the run driver stores each answer with :meth:`ResponseCache.keep`,
which returns once the answer is committed (WAL; a process killed at any moment keeps it).
Answers that arrive in the same turn of the event loop share one commit (a group commit
whose window closes before the loop waits for the network again), so a fast endpoint does
not pay a transaction per answer. A resume therefore pays again only for requests that were
in flight. :meth:`put` (buffered until :meth:`flush`) remains for callers outside a loop.

Each entry keeps the digest of its key and answer (:func:`entry_digest`), so an answer
changed on disk is caught (:func:`bad_entries`, run by ``synthfactory doctor``) and moved to
the ``quarantine`` table (:func:`quarantine`): the call is then paid for again rather than
trusted. Entries written before the digest was kept have none and are only checked to decode.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from synthfactory.models.client import ChatResponse

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response BLOB NOT NULL,
    created_at REAL NOT NULL,
    digest BLOB
);
"""
_QUARANTINE = """
CREATE TABLE IF NOT EXISTS quarantine (
    key TEXT NOT NULL,
    model TEXT,
    response BLOB,
    created_at REAL,
    digest BLOB,
    reason TEXT NOT NULL,
    quarantined_at REAL NOT NULL
);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open an SQLite file in WAL mode with settings that survive kill -9."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode loses nothing on a process crash; only a power cut can drop the
    # last transactions, and those are re-done on resume.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


@dataclass(frozen=True)
class CachedAnswer:
    """A cached response and the run that paid for it (``None`` if not recorded)."""

    response: ChatResponse
    paid_by: str | None


class ResponseCache:
    """A persistent map from request key to :class:`ChatResponse`."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.executescript(_SCHEMA)
        _add_digest_column(self._conn)
        self._pending: dict[str, tuple[str, bytes, float]] = {}
        self._group: asyncio.Future[None] | None = None  # the commit the next keep() joins
        self.hits = 0
        self.misses = 0
        self.group_commits = 0

    def get(self, key: str) -> ChatResponse | None:
        """The cached response for ``key``, or ``None``; counts hits and misses."""
        found = self.lookup(key)
        return None if found is None else found.response

    def lookup(self, key: str) -> CachedAnswer | None:
        """The cached response for ``key`` and the run that paid for it, or ``None``."""
        pending = self._pending.get(key)
        blob: bytes | None = pending[1] if pending else None
        if blob is None:
            row = self._conn.execute(
                "SELECT response FROM responses WHERE key = ?", (key,)
            ).fetchone()
            blob = row[0] if row else None
        if blob is None:
            self.misses += 1
            return None
        self.hits += 1
        data = orjson.loads(blob)
        return CachedAnswer(ChatResponse.from_dict(data), data.get("paid_by"))

    def put(self, key: str, response: ChatResponse, *, paid_by: str | None = None) -> None:
        """Remember ``response`` (bought by run ``paid_by``); durable after the next
        :meth:`flush`."""
        data = response.to_dict()
        if paid_by is not None:
            data["paid_by"] = paid_by
        self._pending[key] = (response.model, orjson.dumps(data), time.time())

    async def keep(self, key: str, response: ChatResponse, *, paid_by: str | None = None) -> None:
        """Remember ``response`` and return once it is committed (see the module docstring).

        The commit runs as the next callback of the loop, after the other answers that
        arrived in this turn were added, and before the loop polls for more. ``paid_by``
        names the run that bought it: if that run is killed before it records the call,
        its resume finds the answer here and still counts the call as its own."""
        self.put(key, response, paid_by=paid_by)
        if self._group is None:
            loop = asyncio.get_running_loop()
            self._group = loop.create_future()
            loop.call_soon(self._commit_group)
        await asyncio.shield(self._group)

    def _commit_group(self) -> None:
        group, self._group = self._group, None
        assert group is not None
        try:
            self.flush()
        except BaseException as err:  # the waiters raise it; the loop goes on
            if not group.cancelled():
                group.set_exception(err)
            return
        self.group_commits += 1
        if not group.cancelled():
            group.set_result(None)

    def flush(self) -> None:
        """Commit buffered writes in one transaction."""
        if not self._pending:
            return
        rows = [(k, m, b, t, entry_digest(k, b)) for k, (m, b, t) in self._pending.items()]
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT OR IGNORE INTO responses(key, model, response, created_at, digest)"
                " VALUES (?,?,?,?,?)",
                rows,
            )
        self._pending.clear()

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]) + len(
            self._pending
        )

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self._conn.close()


def _add_digest_column(conn: sqlite3.Connection) -> None:
    """A cache made before entries kept their digest gets the column (its old rows NULL)."""
    columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(responses)")}
    if "digest" in columns:
        return
    try:
        conn.execute("ALTER TABLE responses ADD COLUMN digest BLOB")
    except sqlite3.OperationalError as err:
        if "duplicate column" not in str(err):  # another process added it first
            raise


def entry_digest(key: str, response: bytes) -> bytes:
    """sha256 of an entry's key and stored answer: binds the answer to the request it is for."""
    return hashlib.sha256(key.encode() + b"\0" + response).digest()


@dataclass(frozen=True)
class BadEntry:
    """A cache entry that cannot be trusted: its key and why."""

    key: str
    reason: str


def bad_entries(conn: sqlite3.Connection) -> list[BadEntry]:
    """Every entry of the cache at ``conn`` whose answer does not match its digest or does
    not decode as a :class:`ChatResponse` (``conn`` may be read-only)."""
    columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(responses)")}
    digest_sql = "digest" if "digest" in columns else "NULL"
    bad = []
    rows = conn.execute(f"SELECT key, model, response, {digest_sql} FROM responses")
    for key, model, stored, digest in rows:
        blob = stored.encode() if isinstance(stored, str) else bytes(stored)
        if digest is not None and entry_digest(str(key), blob) != bytes(digest):
            bad.append(BadEntry(str(key), "its stored answer does not hash to its digest"))
            continue
        try:
            answer = ChatResponse.from_dict(orjson.loads(blob))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            bad.append(BadEntry(str(key), f"its stored answer does not decode ({err})"))
            continue
        if answer.model != model:
            reason = f"it is filed under model {model!r}, its answer says {answer.model!r}"
            bad.append(BadEntry(str(key), reason))
    return bad


def quarantine(conn: sqlite3.Connection, entries: list[BadEntry]) -> int:
    """Move ``entries`` out of the cache into its ``quarantine`` table (kept for a look, never
    served), in one transaction; how many were moved."""
    conn.executescript(_QUARANTINE)
    _add_digest_column(conn)
    moved = 0
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        for entry in entries:
            copied = conn.execute(
                "INSERT INTO quarantine SELECT key, model, response, created_at, digest, ?, ?"
                " FROM responses WHERE key = ?",
                (entry.reason, now, entry.key),
            ).rowcount
            conn.execute("DELETE FROM responses WHERE key = ?", (entry.key,))
            moved += copied
    return moved
