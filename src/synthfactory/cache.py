"""The response cache: never pay twice for the same model call.

Content-addressed on :meth:`ChatRequest.key` (model id, messages, every sampling parameter,
seed, response format), shared by every run in a workspace.

Durable on receipt: the run driver stores each answer with :meth:`ResponseCache.keep`,
which returns once the answer is committed (WAL; a process killed at any moment keeps it).
Answers that arrive in the same turn of the event loop share one commit (a group commit
whose window closes before the loop waits for the network again), so a fast endpoint does
not pay a transaction per answer. A resume therefore pays again only for requests that were
in flight. :meth:`put` (buffered until :meth:`flush`) remains for callers outside a loop.
"""

from __future__ import annotations

import asyncio
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
    created_at REAL NOT NULL
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
        rows = [(k, m, b, t) for k, (m, b, t) in self._pending.items()]
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT OR IGNORE INTO responses(key, model, response, created_at)"
                " VALUES (?,?,?,?)",
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
