"""The ledger as ``doctor`` reads it: read-only, across every run, and without the
:class:`~synthfactory.ledger.Ledger`'s setup (which creates tables, so writes).

Items are read from their table, never through an index (``NOT INDEXED``): an index out of
step with its table (which only ``--full`` finds) would otherwise hide items, and the
datasets would seem to hold rows the ledger does not know.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson


class LedgerView:
    """Read-only questions to the ledger about datasets and runs."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def schema_version(self) -> int | None:
        """The schema version the ledger states (None before any was stored)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return None if row is None else int(row[0])

    def run_ids(self) -> set[str]:
        """Every run the ledger knows."""
        return {str(r[0]) for r in self._conn.execute("SELECT run_id FROM runs")}

    def datasets(self) -> set[str]:
        """Every dataset a run writes to or a commit names."""
        rows = self._conn.execute("SELECT dataset FROM runs UNION SELECT dataset FROM commits")
        return {str(r[0]) for r in rows}

    def item_ids(self, dataset: str, state: str) -> set[str]:
        """The items of ``dataset``'s runs in ``state``."""
        rows = self._conn.execute(
            "SELECT i.item_id FROM items AS i NOT INDEXED JOIN runs r ON r.run_id = i.run_id"
            " WHERE r.dataset = ? AND i.state = ?",
            (dataset, state),
        )
        return {str(r[0]) for r in rows}

    def last_commit(self, dataset: str) -> int | None:
        """The newest table version of ``dataset`` the ledger recorded a commit at."""
        row = self._conn.execute(
            "SELECT MAX(version) FROM commits WHERE dataset = ?", (dataset,)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def runs_of(self, item_ids: set[str]) -> list[str]:
        """The runs ``item_ids`` belong to (a few of them at most are named to a user)."""
        runs: set[str] = set()
        ids = sorted(item_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT DISTINCT run_id FROM items NOT INDEXED WHERE item_id IN ({marks})", chunk
            )
            runs.update(str(r[0]) for r in rows)
        return sorted(runs)

    def payloads(self, item_ids: set[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """``item_id -> (run_id, payload)`` of those of ``item_ids`` the ledger holds."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        ids = sorted(item_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT item_id, run_id, payload FROM items NOT INDEXED"
                f" WHERE item_id IN ({marks})",
                chunk,
            )
            found.update({str(i): (str(r), orjson.loads(p)) for i, r, p in rows})
        return found


__all__ = ["LedgerView"]
