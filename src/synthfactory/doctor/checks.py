"""The checks of ``synthfactory doctor``: every store of a workspace, read without writing.

In order: ``workspace.json`` (a newer or unreadable format stops here: nothing else is
read), runs being driven right now, the ledger (SQLite damage, a newer schema), the
response cache (SQLite damage, entries that do not match their digest or do not decode),
the audit log (SQLite damage, a newer format, then the full offline verifier), each Lance
dataset against the ledger (:mod:`synthfactory.doctor.datasets`), and files nobody owns
(``*.tmp`` left by a killed writer, lock files of runs the ledger does not know).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from synthfactory.cache import bad_entries
from synthfactory.doctor.datasets import check_datasets
from synthfactory.doctor.findings import Finding
from synthfactory.doctor.ledger_view import LedgerView
from synthfactory.errors import SynthFactoryError, WorkspaceError
from synthfactory.ledger_records import SCHEMA_VERSION, TABLES_SQL
from synthfactory.provenance.log import FORMAT_VERSION as LOG_FORMAT
from synthfactory.provenance.log import SqliteAuditLog
from synthfactory.runtime.audit import verify_workspace_log
from synthfactory.sqlite_files import file_damage, open_readonly
from synthfactory.workspace import FORMAT_VERSION, Workspace, stored_format

_UPGRADE = "upgrade synthfactory (pip install -U synthfactory), then run doctor again"


def check_workspace(root: str | os.PathLike[str], *, full: bool = False) -> list[Finding]:
    """Every finding about the workspace at ``root`` (empty when all is well).

    ``full`` runs SQLite's ``integrity_check`` (every index against its table) instead of
    ``quick_check``, and Lance's own validation of each table. Raises
    :class:`WorkspaceError` only when ``root`` is not a workspace at all.
    """
    ws_root = Path(root).expanduser().resolve()
    marker = ws_root / "workspace.json"
    if not marker.exists():
        raise WorkspaceError(
            f"{ws_root} is not a synthfactory workspace (no workspace.json); "
            "pass --workspace DIR pointing at the directory a run was started in"
        )
    try:
        version = stored_format(marker)
    except WorkspaceError as err:
        return [
            Finding(
                "workspace_unreadable",
                "workspace.json",
                f"{err}; doctor checked nothing else",
                "restore workspace.json from a backup (it names the format and the "
                "workspace's id, which its audit log's origin is made of)",
            )
        ]
    if version > FORMAT_VERSION:
        return [
            Finding(
                "workspace_newer",
                "workspace.json",
                f"the workspace was written by a newer synthfactory (format {version}; this one "
                f"reads up to {FORMAT_VERSION}); doctor checked nothing else",
                _UPGRADE,
            )
        ]
    ws = Workspace(ws_root, create=False)
    found = _live_runs(ws)
    with contextlib.ExitStack() as stack:
        view = _ledger(ws, found, full, stack)
        found.extend(_cache(ws, full, stack))
        log = _audit(ws, found, stack)
        if view is not None:
            found.extend(check_datasets(ws.root, view, log, full=full))
        found.extend(_orphans(ws, view, live=any(f.kind == "run_live" for f in found)))
    return found


def _live_runs(ws: Workspace) -> list[Finding]:
    found = []
    for lock in sorted((ws.root / "runs").glob("*.lock")):
        if ws.run_is_driven(lock.stem):
            holder = lock.read_text(errors="replace").strip() or "a process"
            found.append(
                Finding(
                    "run_live",
                    f"runs/{lock.name}",
                    f"run {lock.stem} is being driven right now ({holder}): what it is "
                    "writing may show up as findings",
                    "run doctor again once it has stopped; --repair refuses until then",
                    note=True,
                )
            )
    return found


def _sqlite_damage(
    path: Path, where: str, what: str, todo: str, full: bool
) -> tuple[sqlite3.Connection | None, list[Finding]]:
    """Open ``path`` read-only and check it; the connection when it is sound."""
    try:
        conn = open_readonly(path, what)
        damage = file_damage(conn, path, full=full)
    except sqlite3.DatabaseError as err:
        return None, [Finding("damaged", where, f"the {what} is damaged (SQLite: {err})", todo)]
    if damage is None:
        return conn, []
    conn.close()
    if damage.indexes_only:
        finding = Finding(
            "indexes_stale",
            where,
            f"the {what} has indexes out of step with their tables ({damage})",
            "run `synthfactory doctor --repair` (it rebuilds them from the tables)",
            repair=f"rebuild the {what}'s indexes from its tables (SQLite REINDEX)",
        )
    else:
        finding = Finding("damaged", where, f"the {what} is damaged: {damage}", todo)
    return None, [finding]


def _ledger(
    ws: Workspace, found: list[Finding], full: bool, stack: contextlib.ExitStack
) -> LedgerView | None:
    if not ws.ledger_path.exists():  # no run yet: an empty ledger
        empty = stack.enter_context(contextlib.closing(sqlite3.connect(":memory:")))
        empty.executescript(TABLES_SQL)
        return LedgerView(empty)
    conn, damage = _sqlite_damage(
        ws.ledger_path,
        "ledger.sqlite",
        "ledger",
        "restore ledger.sqlite from a backup (or salvage it: `sqlite3 ledger.sqlite "
        "'.recover' | sqlite3 recovered.sqlite`); the datasets were not checked against it",
        full,
    )
    found.extend(damage)
    if conn is None:
        return None
    stack.callback(conn.close)
    view = LedgerView(conn)
    try:
        schema = view.schema_version()
    except sqlite3.DatabaseError as err:
        found.append(
            Finding("damaged", "ledger.sqlite", f"the ledger is damaged (SQLite: {err})", _UPGRADE)
        )
        return None
    if schema is not None and schema > SCHEMA_VERSION:
        found.append(
            Finding(
                "ledger_newer",
                "ledger.sqlite",
                f"the ledger has schema {schema}, newer than this synthfactory reads "
                f"({SCHEMA_VERSION}); the datasets were not checked against it",
                _UPGRADE,
            )
        )
        return None
    return view


def _cache(ws: Workspace, full: bool, stack: contextlib.ExitStack) -> list[Finding]:
    if not ws.cache_path.exists():
        return []
    conn, found = _sqlite_damage(
        ws.cache_path,
        "cache.sqlite",
        "response cache",
        "move cache.sqlite aside (e.g. to cache.sqlite.damaged): the next run starts an "
        "empty cache and pays again for its model calls; or restore it from a backup",
        full,
    )
    if conn is None:
        return found
    stack.callback(conn.close)
    bad = bad_entries(conn)
    if not bad:
        return []
    shown = "; ".join(f"{b.key[:16]}... ({b.reason})" for b in bad[:3])
    more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
    return [
        Finding(
            "cache_entries_corrupt",
            "cache.sqlite",
            f"{len(bad)} cached model answer(s) cannot be trusted: {shown}{more}",
            "run `synthfactory doctor --repair`: the calls are then paid for again",
            repair=f"move {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} to the cache's "
            "quarantine table (never served again; kept for a look)",
            data={"entries": [[b.key, b.reason] for b in bad]},
        )
    ]


def _audit(
    ws: Workspace, found: list[Finding], stack: contextlib.ExitStack
) -> SqliteAuditLog | None:
    """Check the log; opened (for the rows' digests) only when it verifies."""
    path = ws.root / "audit" / "log.sqlite"
    where = "audit/log.sqlite"
    if not path.exists():
        if (ws.root / "datasets").is_dir() and any((ws.root / "datasets").iterdir()):
            found.append(
                Finding(
                    "audit_missing",
                    where,
                    "there is no audit log, so the dataset rows were not checked against "
                    "their accept records",
                    "if the workspace had one, restore audit/ from a backup",
                    note=True,
                )
            )
        return None
    cannot = (
        "restore audit/log.sqlite from a backup or a copy (a signed log cannot be rebuilt); "
        "until then doctor records nothing in it"
    )
    # The format first: a newer log is not this version's to judge. The verifier below
    # runs SQLite's integrity check itself.
    try:
        with contextlib.closing(open_readonly(path)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
    except sqlite3.DatabaseError:
        row = None  # the verifier names the damage
    if row is not None and int(row[0]) > LOG_FORMAT:
        found.append(
            Finding(
                "audit_newer",
                where,
                f"the audit log has format {row[0]}, newer than this synthfactory reads "
                f"({LOG_FORMAT})",
                _UPGRADE,
            )
        )
        return None
    try:
        report = verify_workspace_log(ws)
    except SynthFactoryError as err:
        found.append(
            Finding("audit_failed", where, f"the audit log cannot be verified: {err}", cannot)
        )
        return None
    if report.problem is not None:
        kind = "damaged" if report.problem.kind in ("damaged", "unreadable") else "audit_failed"
        found.append(
            Finding(kind, where, f"the audit log does not verify: {report.problem}", cannot)
        )
        return None
    return stack.enter_context(SqliteAuditLog(path))


def _tmp_files(root: Path) -> list[Path]:
    """Temporary files synthfactory writes then renames (never inside a Lance table, whose
    own files are Lance's business)."""
    found = [p for p in root.glob("*.tmp") if p.is_file()]
    found += [p for p in (root / "runs").glob("*.tmp") if p.is_file()]
    found += [p for p in (root / "datasets").glob("*.tmp") if p.is_file()]
    found += [p for p in (root / "audit").rglob("*.tmp") if p.is_file()]
    return sorted(found)


def _orphans(ws: Workspace, view: LedgerView | None, *, live: bool) -> list[Finding]:
    found = []
    if not live:  # while a run writes, its temporary files are not orphans
        for tmp in _tmp_files(ws.root):
            where = str(tmp.relative_to(ws.root))
            found.append(
                Finding(
                    "orphan_tmp",
                    where,
                    f"{where} is a temporary file a killed writer left behind (no run is "
                    "live to finish it)",
                    "run `synthfactory doctor --repair`, or delete it",
                    repair=f"delete {where}",
                )
            )
    runs = view.run_ids() if view is not None else None
    if runs is None:
        return found
    for lock in sorted((ws.root / "runs").glob("*.lock")):
        if lock.stem not in runs and not ws.run_is_driven(lock.stem):
            where = f"runs/{lock.name}"
            found.append(
                Finding(
                    "orphan_lock",
                    where,
                    f"{where} is the lock of a run the ledger does not know, and no process "
                    "holds it",
                    "run `synthfactory doctor --repair`, or delete it",
                    repair=f"delete {where}",
                )
            )
    return found


__all__ = ["check_workspace"]
