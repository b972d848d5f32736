"""What ``synthfactory doctor`` reports: a :class:`Finding` per thing wrong (or worth knowing)
in a workspace, and a :class:`Repair` per thing ``--repair`` fixed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

#: Every kind of finding, by the store it is about.
FINDING_KINDS = (
    # workspace.json and the versions of the stores
    "workspace_unreadable",
    "workspace_newer",
    "ledger_newer",
    "audit_newer",
    # SQLite files (ledger, cache, audit log)
    "damaged",
    "indexes_stale",
    # the audit log's records, checkpoints and witness
    "audit_failed",
    "audit_missing",
    # the response cache
    "cache_entries_corrupt",
    # Lance datasets
    "dataset_unreadable",
    "dataset_unknown_rows",
    "dataset_row_changed",
    "dataset_rows_missing",
    "dataset_ahead_of_ledger",
    "dataset_orphan",
    # files
    "orphan_tmp",
    "orphan_lock",
    "run_live",
)


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a workspace, said so a user can act on it.

    ``where`` is the file or directory, relative to the workspace; ``what`` says what is
    wrong, ``todo`` what a user can do. ``repair`` says what ``--repair`` would do, None when
    it cannot repair this. A ``note`` is worth knowing but not wrong (it does not fail the
    check). ``data`` carries what the repair needs (keys, versions), JSON-ready.
    """

    kind: str
    where: str
    what: str
    todo: str
    repair: str | None = None
    note: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def repairable(self) -> bool:
        """True when ``--repair`` can fix this without losing a verified record."""
        return self.repair is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``--json``), without the repair's internal data."""
        return {k: v for k, v in asdict(self).items() if k != "data"}


@dataclass(frozen=True)
class Repair:
    """What ``--repair`` did about one finding. ``ok`` is False when the fix failed
    (``done`` says why); ``logged`` when the audit log records it, else ``why_not``."""

    kind: str
    where: str
    done: str
    ok: bool = True
    logged: bool = False
    why_not: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``--json``)."""
        return asdict(self)


def problems(findings: list[Finding]) -> list[Finding]:
    """The findings that are wrong (not notes): any of them fails the check."""
    return [f for f in findings if not f.note]


__all__ = ["FINDING_KINDS", "Finding", "Repair", "problems"]
