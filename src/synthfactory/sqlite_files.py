"""Damage to an SQLite file of the workspace (ledger, cache, audit log), as SQLite sees it.

Shared by ``synthfactory audit verify`` and ``synthfactory doctor``: the file's size held
against its page count, then SQLite's own check (``quick_check``, or the slower
``integrity_check`` that also holds every index against its table).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from synthfactory.errors import NotFoundError

_SHOWN = 3
_LIMIT = 100


@dataclass(frozen=True)
class FileDamage:
    """What SQLite found wrong with a file. ``torn`` when its size does not match its pages
    (truncated or torn); ``indexes_only`` when every problem is an index out of step with its
    table, which ``REINDEX`` rebuilds from the table, losing nothing."""

    message: str
    torn: bool = False
    indexes_only: bool = False

    def __str__(self) -> str:
        return self.message


def open_readonly(path: Path, what: str = "audit log") -> sqlite3.Connection:
    """A read-only connection to an SQLite file (checkers never write, not even the WAL);
    :class:`NotFoundError` naming ``what`` if there is no such file."""
    if not path.exists():
        raise NotFoundError(f"no {what} at {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def _index_problem(problem: str) -> bool:
    return ("missing from index" in problem) or ("wrong # of entries in index" in problem)


def file_damage(conn: sqlite3.Connection, path: Path, *, full: bool = True) -> FileDamage | None:
    """What is wrong with the SQLite file at ``path`` (open as ``conn``), or None.

    The size is checked first: SQLite reads a missing tail as zeros, so a cut inside a
    record's page can pass its own check. With ``full`` it runs ``integrity_check``, else
    ``quick_check`` (O(n), skips holding each index against its table).
    """
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    actual = path.stat().st_size
    wal = path.with_name(path.name + "-wal")
    # With frames waiting in the WAL the file may be shorter than the database; without,
    # it is exactly its pages.
    settled = not wal.exists() or wal.stat().st_size == 0
    if actual % page_size or (settled and actual != pages * page_size):
        return FileDamage(
            f"it holds {actual} bytes where its {pages} pages of {page_size} bytes need "
            f"{pages * page_size} (a truncated or torn file)",
            torn=True,
        )
    pragma = "integrity_check" if full else "quick_check"
    rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}({_LIMIT})")]
    if rows == ["ok"]:
        return None
    shown = "; ".join(rows[:_SHOWN])
    if len(rows) > _SHOWN:
        shown += f" (and {len(rows) - _SHOWN} more)"
    indexes_only = full and len(rows) < _LIMIT and all(_index_problem(r) for r in rows)
    return FileDamage(f"SQLite {pragma.replace('_', ' ')}: {shown}", indexes_only=indexes_only)


__all__ = ["FileDamage", "file_damage", "open_readonly"]
