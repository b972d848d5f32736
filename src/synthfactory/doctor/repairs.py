"""``synthfactory doctor --repair``: fix what can be fixed without losing a verified record,
and record each fix in the workspace's audit log.

What is repaired: untrustworthy cache entries are quarantined (moved to the cache's
``quarantine`` table: the call is paid for again rather than trusted); a dataset whose
latest version is damaged or holds rows the ledger does not know is rolled back to the last
version the ledger recorded (:func:`synthfactory.doctor.datasets.roll_back`, offered only
when that loses no stored row); stale indexes are rebuilt from their tables (``REINDEX``);
temporary files and lock files nobody holds are deleted. Nothing else is touched: a damaged
ledger or audit log, a newer format, missing rows are for a human (the finding says what to
do).

Each repair is one provenance record (step ``doctor:repair``, item ``workspace:<path>``),
appended and checkpointed once all repairs are done. A log that does not verify is never
written to: the repairs are then reported as not recorded, and why.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from synthfactory.cache import BadEntry, connect, quarantine
from synthfactory.doctor.datasets import rebuild, roll_back
from synthfactory.doctor.findings import Finding, Repair
from synthfactory.doctor.ledger_view import LedgerView
from synthfactory.errors import SynthFactoryError, WorkspaceError
from synthfactory.provenance import ProvenanceRecord, SqliteAuditLog, digest
from synthfactory.sqlite_files import open_readonly
from synthfactory.workspace import Workspace

_STEP = "doctor:repair"


def repair(root: str | os.PathLike[str], findings: list[Finding]) -> list[Repair]:
    """Fix every repairable finding of :func:`~synthfactory.doctor.check_workspace` and
    record each fix in the audit log; what was done (a failed fix says so and why).

    Refuses (:class:`WorkspaceError`) while a run is being driven: its writes and the
    repairs would race.
    """
    ws = Workspace(root, create=False)
    live = [f.where for f in findings if f.kind == "run_live"]
    if live:
        raise WorkspaceError(
            f"a run is being driven right now ({', '.join(live)}); --repair waits until no "
            "run is live: let it finish or stop it, then repair"
        )
    done: list[tuple[Repair, dict[str, Any]]] = []
    rolled_back: set[str] = set()
    for finding in findings:
        if not finding.repairable or finding.where in rolled_back:
            continue
        if finding.kind.startswith("dataset_"):
            rolled_back.add(finding.where)
        fix = _FIXES.get(finding.kind)
        if fix is None:
            continue
        try:
            text, details = fix(ws, finding)
        # A fix that fails is reported, not raised: the others still run. Lance's restore
        # raises assorted types (OSError, ValueError, RuntimeError) from its Rust core.
        except Exception as err:
            done.append((Repair(finding.kind, finding.where, f"FAILED: {err}", ok=False), {}))
            continue
        done.append((Repair(finding.kind, finding.where, text), details))
    return _record(ws, findings, done)


def _quarantine(ws: Workspace, finding: Finding) -> tuple[str, dict[str, Any]]:
    entries = [BadEntry(str(k), str(r)) for k, r in finding.data["entries"]]
    with contextlib.closing(connect(ws.cache_path)) as conn:
        moved = quarantine(conn, entries)
    keys = sorted(e.key for e in entries)
    return (
        f"moved {moved} cache entr{'y' if moved == 1 else 'ies'} to the quarantine table; "
        "their calls will be paid for again",
        {"keys": keys},
    )


def _reindex(ws: Workspace, finding: Finding) -> tuple[str, dict[str, Any]]:
    path = ws.root / finding.where
    with contextlib.closing(connect(path)) as conn:
        conn.execute("REINDEX")
    return f"rebuilt the indexes of {finding.where} from its tables (REINDEX)", {}


def _fix_dataset(ws: Workspace, finding: Finding) -> tuple[str, dict[str, Any]]:
    if finding.data.get("rebuild"):
        return _rebuild(ws, finding)
    return _roll_back(ws, finding)


def _rebuild(ws: Workspace, finding: Finding) -> tuple[str, dict[str, Any]]:
    path = ws.root / finding.where
    with (
        contextlib.closing(open_readonly(ws.ledger_path, "ledger")) as ledger,
        SqliteAuditLog(ws.root / "audit" / "log.sqlite") as log,
    ):
        dropped, written, now = rebuild(path, LedgerView(ledger), log)
    name = finding.data["dataset"]
    return (
        f"dropped {dropped} unreadable data file(s) from dataset {name} and wrote {written} "
        f"stored row(s) again from the ledger, each matching its accept record (now version "
        f"{now}; the earlier versions stay in the table's history)",
        {"dataset": name, "dropped_files": dropped, "rows_written": written, "now": now},
    )


def _roll_back(ws: Workspace, finding: Finding) -> tuple[str, dict[str, Any]]:
    path = ws.root / finding.where
    import lance

    before = int(lance.dataset(str(path)).version)
    target = int(finding.data["version"])
    now = roll_back(path, target)
    return (
        f"rolled dataset {finding.data['dataset']} back from version {before} to the content of "
        f"version {target}, the last the ledger recorded (now version {now}; version {before} "
        "stays in the table's history)",
        {"dataset": finding.data["dataset"], "from": before, "to": target, "now": now},
    )


def _delete_tmp(ws: Workspace, finding: Finding) -> tuple[str, dict[str, Any]]:
    (ws.root / finding.where).unlink(missing_ok=True)
    return f"deleted {finding.where}", {}


def _delete_lock(ws: Workspace, finding: Finding) -> tuple[str, dict[str, Any]]:
    path = ws.root / finding.where
    with path.open("r") as handle:
        # Held while it is deleted: a process that opened it meanwhile cannot take it.
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return f"kept {finding.where}: a process took it meanwhile", {}
        path.unlink()
    return f"deleted {finding.where} (no process held it)", {}


_Fix = Callable[[Workspace, Finding], tuple[str, dict[str, Any]]]
_FIXES: dict[str, _Fix] = {
    "cache_entries_corrupt": _quarantine,
    "indexes_stale": _reindex,
    "dataset_unreadable": _fix_dataset,
    "dataset_unknown_rows": _fix_dataset,
    "dataset_row_changed": _fix_dataset,
    "dataset_rows_missing": _fix_dataset,
    "orphan_tmp": _delete_tmp,
    "orphan_lock": _delete_lock,
}


def _log_unusable(ws: Workspace, findings: list[Finding]) -> str | None:
    """Why the audit log must not be written to, or None."""
    if not (ws.root / "audit" / "log.sqlite").exists():
        return "the workspace has no audit log"
    bad = [f for f in findings if f.where == "audit/log.sqlite" and not f.note]
    if bad:
        return f"the audit log is not sound ({bad[0].what})"
    return None


def _record(
    ws: Workspace, findings: list[Finding], done: list[tuple[Repair, dict[str, Any]]]
) -> list[Repair]:
    made = [(r, d) for r, d in done if r.ok]
    if not made:
        return [r for r, _ in done]
    why_not = _log_unusable(ws, findings)
    if why_not is None:
        try:
            _append(ws, made)
        except (SynthFactoryError, OSError, sqlite3.Error) as err:
            why_not = f"writing to the audit log failed: {err}"
    if why_not is not None:
        return [
            r if not r.ok else Repair(r.kind, r.where, r.done, logged=False, why_not=why_not)
            for r, _ in done
        ]
    return [Repair(r.kind, r.where, r.done, logged=r.ok) for r, _ in done]


def _append(ws: Workspace, made: list[tuple[Repair, dict[str, Any]]]) -> None:
    from synthfactory.runtime.audit import open_workspace_log
    from synthfactory.version import __version__

    session = "doctor-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    now = time.time()
    records = [
        ProvenanceRecord(
            item_id=f"workspace:{repair.where}",
            run_id=session,
            step=_STEP,
            attempt=0,
            recipe_name="synthfactory doctor",
            recipe_version=__version__,
            recipe_digest=digest({"tool": "synthfactory doctor", "repair": repair.kind}),
            started_at=now,
            finished_at=now,
            status="repaired",
            worker=f"{os.uname().nodename}:{os.getpid()}",
            extra={"finding": repair.kind, "done": repair.done, **details},
        )
        for repair, details in made
    ]
    with contextlib.closing(open_workspace_log(ws)) as log:
        log.append(records)
        log.checkpoint()


__all__ = ["repair"]
