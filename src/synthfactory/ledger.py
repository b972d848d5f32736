"""The run ledger: every run, every item's state per step, every dataset commit (SQLite, WAL).

The ledger is the source of truth for progress; executors (local or Ray) hold nothing that
cannot be lost. Writes are buffered and committed in batches by :meth:`Ledger.flush` (the
runtime flushes every few tens of milliseconds and before each dataset commit), which keeps
the per-item cost far below one SQLite commit.

Item states::

    active ──▶ passed ──▶ stored
       ├─────▶ rejected   (a verifier said no: data, with its verdicts)
       └─────▶ failed     (errors after every retry: the error and attempts are kept)

Acceptance sampling (``synthfactory qa``) keeps its checks in the same file, in a table of
its own (``qa_checks``: one row per item and quality verifier), read and written by the
methods of the last section of :class:`Ledger`.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from synthfactory.cache import connect
from synthfactory.errors import NotFoundError, WorkspaceError
from synthfactory.ledger_records import (
    ITEM_STATES,
    QA_TABLES_SQL,
    SCHEMA_VERSION,
    TABLES_SQL,
    AttemptRecord,
    ItemRecord,
    QaCheckRecord,
    RunRecord,
)
from synthfactory.ledger_records import item_record as _item_record
from synthfactory.ledger_records import run_record as _run_record
from synthfactory.verify.canaries import CanaryCheck


class Ledger:
    """Durable run state in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.executescript(TABLES_SQL)
        self._conn.executescript(QA_TABLES_SQL)
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise WorkspaceError(
                f"ledger {path} has schema {row[0]}, newer than this synthfactory reads "
                f"({SCHEMA_VERSION}); upgrade: pip install -U synthfactory"
            )
        self._pending: list[tuple[str, Sequence[Any]]] = []

    # -- writes (buffered) -------------------------------------------------------------

    def _queue(self, sql: str, params: Sequence[Any]) -> None:
        self._pending.append((sql, params))

    def mark(self) -> int:
        """How many writes are buffered now: pass to :meth:`flush` to commit only those."""
        return len(self._pending)

    def flush(self, upto: int | None = None) -> None:
        """Commit the buffered writes (the first ``upto`` of them) in one transaction."""
        if not self._pending:
            return
        cut = len(self._pending) if upto is None else upto
        pending, self._pending = self._pending[:cut], self._pending[cut:]
        if not pending:
            return
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            # Runs of one statement go in one executemany (order kept): a statement's
            # Python-side cost, paid ~7 times per item, is most of a flush's CPU.
            for sql, run in itertools.groupby(pending, key=operator.itemgetter(0)):
                self._conn.executemany(sql, [params for _, params in run])

    def discard_pending(self) -> None:
        """Forget the buffered writes: the steps they record are redone by a resume (used
        when the audit records of those steps could not be written)."""
        self._pending.clear()

    def create_run(self, run: RunRecord) -> None:
        """Record a new run (committed at once)."""
        self._queue(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                run.run_id,
                run.recipe_name,
                orjson.dumps(run.recipe_source).decode(),
                run.recipe_digest,
                run.recipe_version,
                run.dataset,
                orjson.dumps(run.config),
                run.status,
                run.message,
                run.created_at,
                run.updated_at,
                run.active_s,
            ),
        )
        self.flush()

    def set_run_status(
        self, run_id: str, status: str, message: str = "", *, add_active_s: float = 0
    ) -> None:
        """Update a run's status (committed at once)."""
        self._queue(
            "UPDATE runs SET status=?, message=?, updated_at=?, active_s=active_s+? WHERE run_id=?",
            (status, message, time.time(), add_active_s, run_id),
        )
        self.flush()

    def add_item(self, item: ItemRecord) -> None:
        """Record a newly admitted item."""
        now = time.time()
        self._queue(
            "INSERT INTO items (item_id, run_id, idx, seed, state, next_step, payload, created_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                item.item_id,
                item.run_id,
                item.index,
                item.seed,
                item.state,
                item.next_step,
                orjson.dumps(item.payload),
                now,
                now,
            ),
        )

    def save_item(self, item: ItemRecord) -> None:
        """Record an item's progress: state, next step, payload, error, verdicts."""
        self._queue(
            "UPDATE items SET state=?, next_step=?, payload=?, attempts=?, error=?, verdicts=?,"
            " updated_at=? WHERE item_id=?",
            (
                item.state,
                item.next_step,
                orjson.dumps(item.payload),
                item.attempts,
                item.error,
                orjson.dumps(item.verdicts),
                time.time(),
                item.item_id,
            ),
        )

    def add_attempt(self, a: AttemptRecord) -> None:
        """Record one step attempt (idempotent: a re-recorded attempt replaces the old row)."""
        self._queue(
            "INSERT OR REPLACE INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                a.item_id,
                a.step,
                a.attempt,
                a.status,
                a.error,
                a.role,
                a.model,
                a.request_key,
                int(a.cached),
                a.prompt_tokens,
                a.completion_tokens,
                a.cost,
                a.started_at,
                a.finished_at,
            ),
        )

    def mark_stored(self, run_id: str, dataset: str, item_ids: Iterable[str], version: int) -> None:
        """Mark items as stored in ``dataset`` at table ``version`` and record the commit.

        Buffered like every write: if the process dies before the next flush, resume finds
        the rows in the table and marks them then (the table is the truth for "stored").
        """
        ids = list(item_ids)
        now = time.time()
        for item_id in ids:
            self._queue(
                "UPDATE items SET state='stored', dataset_version=?, updated_at=? WHERE item_id=?",
                (version, now, item_id),
            )
        self._queue(
            "INSERT INTO commits VALUES (?,?,?,?,?)", (run_id, dataset, version, len(ids), now)
        )

    # -- canaries -----------------------------------------------------------------------

    def add_canary_check(self, check: CanaryCheck) -> None:
        """Record one canary verdict (idempotent by canary id)."""
        self._queue(
            "INSERT OR REPLACE INTO canary_checks VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                check.canary_id,
                check.run_id,
                check.item_id,
                check.step,
                check.tier,
                int(check.bad),
                check.source,
                check.label,
                check.status,
                check.reason,
                time.time(),
            ),
        )

    def canary_checks(self, run_id: str) -> list[CanaryCheck]:
        """Every canary verdict of a run, oldest first."""
        rows = self._conn.execute(
            "SELECT canary_id, run_id, item_id, step, tier, bad, source, label, status, reason"
            " FROM canary_checks WHERE run_id=? ORDER BY at",
            (run_id,),
        ).fetchall()
        return [
            CanaryCheck(
                canary_id=r[0],
                run_id=r[1],
                item_id=r[2],
                step=r[3],
                tier=r[4],
                bad=bool(r[5]),
                source=r[6],
                label=r[7],
                status=r[8],
                reason=r[9],
            )
            for r in rows
        ]

    # -- reads -------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord:
        """The run ``run_id``; :class:`NotFoundError` if there is none."""
        row = self._conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no run {run_id!r} in this workspace; `synthfactory status` lists them"
            )
        return _run_record(row)

    def runs(self) -> list[RunRecord]:
        """Every run, newest first."""
        rows = self._conn.execute("SELECT * FROM runs ORDER BY created_at DESC").fetchall()
        return [_run_record(r) for r in rows]

    def item(self, item_id: str) -> ItemRecord:
        """The item ``item_id``; :class:`NotFoundError` if there is none."""
        row = self._conn.execute(_ITEM_SELECT + " WHERE item_id=?", (item_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no item {item_id!r} in this workspace")
        return _item_record(row)

    def items(self, run_id: str, states: Sequence[str] | None = None) -> list[ItemRecord]:
        """A run's items in index order, optionally only those in ``states``."""
        sql = _ITEM_SELECT + " WHERE run_id=?"
        params: list[Any] = [run_id]
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params.extend(states)
        rows = self._conn.execute(sql + " ORDER BY idx", params).fetchall()
        return [_item_record(r) for r in rows]

    def attempts(self, item_id: str) -> list[AttemptRecord]:
        """Every attempt of an item, in order."""
        rows = self._conn.execute(
            "SELECT item_id, step, attempt, status, started_at, finished_at, error, role, model,"
            " request_key, cached, prompt_tokens, completion_tokens, cost FROM attempts"
            " WHERE item_id=? ORDER BY started_at, attempt",
            (item_id,),
        ).fetchall()
        return [
            AttemptRecord(
                item_id=r[0],
                step=r[1],
                attempt=r[2],
                status=r[3],
                started_at=r[4],
                finished_at=r[5],
                error=r[6],
                role=r[7],
                model=r[8],
                request_key=r[9],
                cached=bool(r[10]),
                prompt_tokens=r[11],
                completion_tokens=r[12],
                cost=r[13],
            )
            for r in rows
        ]

    def has_attempt(self, item_id: str, step: str, attempt: int) -> bool:
        """Whether this attempt of ``item_id``'s ``step`` was recorded (committed)."""
        row = self._conn.execute(
            "SELECT 1 FROM attempts WHERE item_id=? AND step=? AND attempt=?",
            (item_id, step, attempt),
        ).fetchone()
        return row is not None

    def counts(self, run_id: str) -> dict[str, int]:
        """Items per state, every state present (0 when none)."""
        out = dict.fromkeys(ITEM_STATES, 0)
        for state, n in self._conn.execute(
            "SELECT state, COUNT(*) FROM items WHERE run_id=? GROUP BY state", (run_id,)
        ):
            out[state] = n
        return out

    def verdicts(self, run_id: str) -> list[list[dict[str, Any]]]:
        """Every item's verdict list (items with none included as empty lists)."""
        rows = self._conn.execute("SELECT verdicts FROM items WHERE run_id=?", (run_id,))
        return [orjson.loads(r[0]) for r in rows]

    def next_index(self, run_id: str) -> int:
        """The index the next admitted item gets."""
        row = self._conn.execute("SELECT MAX(idx) FROM items WHERE run_id=?", (run_id,)).fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def usage(self, run_id: str) -> dict[str, float]:
        """Token, cost, request and cache totals of a run's model calls (its items' and its
        canaries': measuring a verifier costs what it costs)."""
        row = self._conn.execute(
            "SELECT COALESCE(SUM(a.prompt_tokens),0), COALESCE(SUM(a.completion_tokens),0),"
            " COALESCE(SUM(a.cost),0), COALESCE(SUM(a.role IS NOT NULL AND a.cached=0),0),"
            " COALESCE(SUM(a.cached),0)"
            " FROM attempts a WHERE a.item_id IN (SELECT item_id FROM items WHERE run_id=?"
            " UNION ALL SELECT canary_id FROM canary_checks WHERE run_id=?)",
            (run_id, run_id),
        ).fetchone()
        return {
            "prompt_tokens": row[0],
            "completion_tokens": row[1],
            "token_cost": row[2],
            "model_calls": row[3],
            "cache_hits": row[4],
        }

    def commits(self, run_id: str) -> list[tuple[str, int, int, float]]:
        """(dataset, version, rows, at) of each dataset commit of a run."""
        return [
            (d, v, n, t)
            for d, v, n, t in self._conn.execute(
                "SELECT dataset, version, rows, at FROM commits WHERE run_id=? ORDER BY at",
                (run_id,),
            )
        ]

    # -- acceptance sampling (qa_checks) -----------------------------------------------

    def add_qa_check(self, check: QaCheckRecord) -> None:
        """Record one qa check (buffered; replaces an earlier check of the item by the same
        verifier, which is how an ``error`` is settled by asking again)."""
        self._queue(
            "INSERT OR REPLACE INTO qa_checks VALUES (?,?,?,?,?,?,?,?)",
            (
                check.run_id,
                check.item_id,
                check.verifier,
                check.verdict,
                check.reason,
                orjson.dumps(check.details),
                check.sample_seed,
                check.checked_at,
            ),
        )

    def qa_checks(self, run_id: str, verifier: str | None = None) -> list[QaCheckRecord]:
        """A run's qa checks in the order they were made, optionally of one verifier only."""
        sql = (
            "SELECT run_id, item_id, verifier, verdict, reason, details, sample_seed, checked_at"
            " FROM qa_checks WHERE run_id=?"
        )
        params: list[Any] = [run_id]
        if verifier is not None:
            sql += " AND verifier=?"
            params.append(verifier)
        rows = self._conn.execute(sql + " ORDER BY checked_at, item_id", params).fetchall()
        return [
            QaCheckRecord(
                run_id=r[0],
                item_id=r[1],
                verifier=r[2],
                verdict=r[3],
                reason=r[4],
                details=orjson.loads(r[5]),
                sample_seed=r[6],
                checked_at=r[7],
            )
            for r in rows
        ]

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self._conn.close()


_ITEM_SELECT = (
    "SELECT item_id, run_id, idx, seed, state, next_step, payload, attempts, error, verdicts,"
    " dataset_version FROM items"
)


__all__ = [
    "ITEM_STATES",
    "SCHEMA_VERSION",
    "AttemptRecord",
    "ItemRecord",
    "Ledger",
    "QaCheckRecord",
    "RunRecord",
]
