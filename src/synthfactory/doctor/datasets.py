"""Each Lance dataset of a workspace held against the ledger and the audit log.

A dataset is read fragment by fragment, every column (Lance raises on a data file whose
pages no longer decode; it has no checksum, so a changed value that still decodes is caught
by the row's digest against its accept record instead). Its rows are then held against the
ledger: every row an item the ledger holds as stored (or, just after a crash, as passed),
each once, and every stored item present.

Repair is a roll back to the last table version the ledger recorded a commit at, through
Lance's restore (a new version with that version's content: the damaged or unknown version
stays in the table's history). It is offered only when that version reads cleanly, holds
only known rows, and holds every row the ledger calls stored: a roll back never loses a
verified row.

Where no roll back is safe (the damage is in a version the ledger recorded) the table is
rebuilt instead: its unreadable data files are dropped from it and the rows the ledger
holds as stored but the table no longer does are written again from the ledger's payloads,
each first checked against the digest its accept record in the audit log states (a row
that does not match exactly is not written, and the repair is not offered).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthfactory.doctor.findings import Finding
from synthfactory.doctor.ledger_view import LedgerView
from synthfactory.errors import SynthFactoryError
from synthfactory.provenance.log import SqliteAuditLog
from synthfactory.runtime.audit import row_problem

_EXAMPLES = 3
_RUN_REPAIR = "run `synthfactory doctor --repair`"


@dataclass
class _Scan:
    """What reading one version of a table found."""

    ids: list[str] = field(default_factory=list)
    bad_files: list[tuple[str, str]] = field(default_factory=list)  # (data file, error)
    bad_fragments: list[int] = field(default_factory=list)
    changed: str | None = None  # the first row that does not match its accept record


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _scan(ds: Any, name: str, known: set[str], log: SqliteAuditLog | None) -> _Scan:
    scan = _Scan()
    for fragment in ds.get_fragments():
        files = ", ".join(f"data/{d.path}" for d in fragment.data_files())
        try:
            rows = fragment.to_table().to_pylist()
        # Lance reports a damaged data file with assorted types from its Rust core
        # (OSError, ValueError, pyarrow's ArrowInvalid, RuntimeError): any of them means
        # "this fragment cannot be read", which is what is reported.
        except Exception as err:
            scan.bad_files.append((files, _short(err)))
            scan.bad_fragments.append(int(fragment.fragment_id))
            continue
        scan.ids.extend(str(row.get("item_id")) for row in rows)
        if log is not None and scan.changed is None:
            mine = (row for row in rows if str(row.get("item_id")) in known)
            scan.changed = row_problem(name, mine, log)
    return scan


def _examples(ids: set[str] | list[str]) -> str:
    shown = sorted(ids)[:_EXAMPLES]
    more = len(ids) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


class _Dataset:
    """One dataset's check: the findings and, when one is safe, its roll-back target."""

    def __init__(self, path: Path, view: LedgerView, log: SqliteAuditLog | None) -> None:
        self.path = path
        self.name = path.stem
        self.where = f"datasets/{path.name}"
        self.view = view
        self.log = log
        self.stored = view.item_ids(self.name, "stored")
        self.passed = view.item_ids(self.name, "passed")

    def findings(self, *, full: bool) -> list[Finding]:
        import lance

        try:
            ds: Any = lance.dataset(str(self.path))
            if full:
                ds.validate()
        except Exception as err:  # as in _scan: Lance's errors come in many types
            return [self._unreadable(f"its latest version cannot be opened ({_short(err)})")]
        latest = int(ds.version)
        scan = _scan(ds, self.name, self.stored | self.passed, self.log)
        found: list[Finding] = []
        counts = Counter(scan.ids)
        unknown = {i for i in counts if i not in self.stored and i not in self.passed}
        twice = {i for i, n in counts.items() if n > 1 and i not in unknown}
        damaged = bool(scan.bad_files or unknown or twice or scan.changed)
        lost = self.stored - set(counts)
        repair, data, todo = self._plan(
            ds, latest, scan, lost, damaged=damaged, foreign=bool(unknown or twice)
        )
        for files, error in scan.bad_files:
            found.append(
                Finding(
                    "dataset_unreadable",
                    self.where,
                    f"dataset {self.name}: {files} (in version {latest}) cannot be read: {error}",
                    todo,
                    repair,
                    data=data,
                )
            )
        if unknown or twice:
            parts = []
            if unknown:
                parts.append(f"{len(unknown)} no synthfactory run made ({_examples(unknown)})")
            if twice:
                parts.append(f"{len(twice)} stored more than once ({_examples(twice)})")
            found.append(
                Finding(
                    "dataset_unknown_rows",
                    self.where,
                    f"dataset {self.name}: version {latest} holds rows the ledger does not know: "
                    + "; ".join(parts),
                    todo,
                    repair,
                    data=data,
                )
            )
        if scan.changed:
            found.append(
                Finding("dataset_row_changed", self.where, scan.changed, todo, repair, data=data)
            )
        if lost and not scan.bad_files:
            found.append(
                Finding(
                    "dataset_rows_missing",
                    self.where,
                    f"dataset {self.name}: {len(lost)} row(s) the ledger holds as stored are "
                    f"not in version {latest} ({_examples(lost)})",
                    todo,
                    repair,
                    data=data,
                )
            )
        ahead = self.passed & set(counts)
        if ahead and not damaged:
            runs = self.view.runs_of(ahead)
            found.append(
                Finding(
                    "dataset_ahead_of_ledger",
                    self.where,
                    f"dataset {self.name}: {len(ahead)} row(s) are in the table while the ledger "
                    "still holds them as passed (their run stopped between its dataset commit "
                    "and its ledger write)",
                    f"`synthfactory resume {runs[0]}` records them as stored",
                    note=True,
                )
            )
        return found

    def _plan(
        self, ds: Any, latest: int, scan: _Scan, lost: set[str], *, damaged: bool, foreign: bool
    ) -> tuple[str | None, dict[str, Any], str]:
        """What ``--repair`` would do (None: nothing safe), the data it needs, and what a
        user can do: a roll back where one is safe, else rows written again from the ledger
        where every lost row can be made exactly, else a backup."""
        target, why_not = self._rollback_target(latest) if damaged else (None, "")
        if target is not None:
            repair = (
                f"roll dataset {self.name} back to version {target}, the last the ledger "
                f"recorded (a new version with its content; version {latest} stays in the history)"
            )
            return repair, {"dataset": self.name, "version": target}, _RUN_REPAIR
        if (scan.bad_files or lost) and not (foreign or scan.changed):
            rows, cannot = self.rebuilt_rows(lost, ds.schema.names)
            if not cannot:
                dropped = ""
                if scan.bad_files:
                    dropped = f"drop its {len(scan.bad_files)} unreadable data file(s) and "
                repair = (
                    f"{dropped}write the {len(rows)} stored row(s) it lacks again from the "
                    "ledger, each checked against its accept record"
                )
                return repair, {"dataset": self.name, "rebuild": True}, _RUN_REPAIR
            why_not = f"{why_not}; {cannot}" if why_not else cannot
        todo = (
            f"restore {self.where} from a backup ({why_not}); every stored item's payload "
            "is still in the ledger (`synthfactory show ITEM_ID`)"
        )
        return None, {}, todo

    def _unreadable(self, why: str) -> Finding:
        return Finding(
            "dataset_unreadable",
            self.where,
            f"dataset {self.name}: {why}",
            f"restore {self.where} from a backup; every stored item's payload is still in the "
            "ledger (`synthfactory show ITEM_ID`)",
        )

    def rebuilt_rows(self, lost: set[str], columns: list[str]) -> tuple[list[dict[str, Any]], str]:
        """The dataset rows of ``lost`` stored items, made again from the ledger's payloads
        as the run's committer made them, each checked against its accept record; or why
        that cannot be done."""
        if self.log is None:
            return [], "rebuilding rows needs a sound audit log to check them against"
        payloads = self.view.payloads(lost)
        rows = []
        for item_id in sorted(lost):
            if item_id not in payloads:
                return [], f"the ledger has no payload of item {item_id}"
            run_id, payload = payloads[item_id]
            row: dict[str, Any] = {"item_id": item_id, "run_id": run_id}
            row.update({c: payload.get(c) for c in columns if c not in row})
            rows.append(row)
        problem = row_problem(self.name, rows, self.log)
        if problem is not None:
            return [], f"a row made again from the ledger would not be the one accepted ({problem})"
        return rows, ""

    def _rollback_target(self, latest: int) -> tuple[int | None, str]:
        """The last version the ledger recorded, if rolling back to it loses no verified row."""
        import lance

        target = self.view.last_commit(self.name)
        if target is None:
            return None, "the ledger recorded no commit of it to roll back to"
        if target >= latest:
            return None, f"the damage is in version {target}, which the ledger recorded"
        try:
            old = lance.dataset(str(self.path), version=target)
        except Exception as err:  # as in _scan
            return None, f"version {target} cannot be opened either: {_short(err)}"
        scan = _scan(old, self.name, self.stored | self.passed, self.log)
        counts = Counter(scan.ids)
        if scan.bad_files or scan.changed:
            return None, f"version {target} is damaged too"
        if any(n > 1 or (i not in self.stored and i not in self.passed) for i, n in counts.items()):
            return None, f"version {target} holds rows the ledger does not know too"
        if self.stored - set(counts):
            return None, f"version {target} lacks rows the ledger holds as stored"
        return target, ""


def check_datasets(
    root: Path, view: LedgerView, log: SqliteAuditLog | None, *, full: bool = False
) -> list[Finding]:
    """Findings about every ``datasets/*.lance`` of the workspace at ``root``."""
    found: list[Finding] = []
    named = view.datasets()
    for path in sorted((root / "datasets").glob("*.lance")):
        if path.stem not in named:
            found.append(
                Finding(
                    "dataset_orphan",
                    f"datasets/{path.name}",
                    f"dataset directory {path.name} belongs to no run the ledger knows",
                    "if it is yours, move it out of the workspace; doctor leaves it alone",
                )
            )
            continue
        found.extend(_Dataset(path, view, log).findings(full=full))
    return found


def roll_back(path: Path, version: int) -> int:
    """Make ``version``'s content the latest version of the table at ``path`` (a new
    version; the history stays); the new version."""
    import lance

    old: Any = lance.dataset(str(path), version=version)
    old.restore()
    return int(lance.dataset(str(path)).version)


def rebuild(path: Path, view: LedgerView, log: SqliteAuditLog) -> tuple[int, int, int]:
    """Drop the unreadable data files of the table at ``path`` and write again, from the
    ledger, the stored rows it then lacks (each checked against its accept record first);
    ``(data files dropped, rows written, new version)``. Raises :class:`SynthFactoryError`
    when a row cannot be made again exactly (nothing is changed then)."""
    import lance

    from synthfactory.store.lance import LanceStore

    dataset = _Dataset(path, view, log)
    ds = lance.dataset(str(path))
    scan = _scan(ds, dataset.name, dataset.stored | dataset.passed, log)
    lost = dataset.stored - set(scan.ids)
    rows, cannot = dataset.rebuilt_rows(lost, ds.schema.names)
    if cannot:
        raise SynthFactoryError(f"dataset {dataset.name} was not rebuilt: {cannot}")
    if scan.bad_fragments:
        drop = lance.LanceOperation.Delete([], scan.bad_fragments, "false")
        ds = lance.LanceDataset.commit(str(path), drop, read_version=ds.version)
    version = LanceStore(str(path)).append(rows) if rows else int(ds.version)
    return len(scan.bad_fragments), len(rows), version


__all__ = ["check_datasets", "rebuild", "roll_back"]
