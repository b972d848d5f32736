"""Provenance by default: the run driver's side of the audit log.

Each workspace has one signed, append-only log (``WORKSPACE/audit/``): the log's key, a
witness with its own key that cosigns every checkpoint and refuses rollbacks, and the log
itself. :class:`AuditRecorder` turns what the driver does into
:class:`~synthfactory.provenance.ProvenanceRecord` s: one per step attempt (rejections and
errors included) and one decision per item. Records hold digests, never content.

The witness here lives in the same workspace, which catches a rewritten or rolled-back log
file but not an insider who replaces the witness too; point ``witness_dir`` somewhere the
run cannot write (another disk, another host) for that.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from synthfactory.ledger import ItemRecord
from synthfactory.models.client import ChatRequest, ChatResponse
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.provenance import (
    DedupDecision,
    DirectoryWitness,
    ProvenanceRecord,
    SqliteAuditLog,
    VerdictEntry,
    digest,
    generate_key,
    load_signer,
)
from synthfactory.provenance.canonical import dumps_normalized
from synthfactory.provenance.verify import VerificationReport, verify_log
from synthfactory.recipe.model import ModelStep, Recipe
from synthfactory.runtime.disk_full import disk_full_error
from synthfactory.verdict import Verdict
from synthfactory.workspace import Workspace


def row_digest(row: Mapping[str, Any]) -> str:
    """The digest of a dataset row, as its decision record states it.

    Null fields are left out: a columnar store fills a missing struct field with null, and
    that must not read as tampering.
    """
    return digest(_without_nulls(dict(row)))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_nulls(v) for v in value]
    return value


def check_dataset_rows(workspace: Workspace, log: SqliteAuditLog) -> str | None:
    """The first dataset row that does not match its accept record, or None if all do."""
    from synthfactory.store.lance import LanceStore

    for path in sorted((workspace.root / "datasets").glob("*.lance")):
        problem = row_problem(path.stem, LanceStore(str(path)).read().to_pylist(), log)
        if problem is not None:
            return problem
    return None


def row_problem(dataset: str, rows: Iterable[Mapping[str, Any]], log: SqliteAuditLog) -> str | None:
    """The first of ``rows`` (of ``dataset``) that does not match its accept record."""
    for row in rows:
        item_id = row.get("item_id")
        accepts = [
            record for _, record in log.records_for(str(item_id)) if record.decision == "accept"
        ]
        if not accepts:
            return f"dataset {dataset}: row {item_id} has no accept record in the audit log"
        if accepts[-1].output_digest != row_digest(row):
            return (
                f"dataset {dataset}: row {item_id} does not match its accept record "
                f"(the row was changed after it was stored)"
            )
    return None


def verify_workspace_log(workspace: Workspace) -> VerificationReport:
    """:func:`~synthfactory.provenance.verify_log` of the workspace's own log, with its own
    key and, where there is one, its witness and the witness's key."""
    audit = workspace.root / "audit"
    witness = audit / "witness"
    witness_key = audit / "witness.key.pub"
    return verify_log(
        audit / "log.sqlite",
        audit / "log.key.pub",
        witness_state=witness if witness.is_dir() else None,
        witness_key=witness_key if witness.is_dir() and witness_key.exists() else None,
    )


def audit_manifest(workspace: Workspace) -> dict[str, str]:
    """The log's origin and public keys (creating the keys on first use): pinned in every
    run's manifest, so a verifier knows which key a run's records must be signed with."""
    audit = workspace.root / "audit"
    audit.mkdir(exist_ok=True)
    log_key, witness_key = audit / "log.key", audit / "witness.key"
    if not log_key.exists():
        generate_key(log_key, f"log.{workspace.id}")
    if not witness_key.exists():
        generate_key(witness_key, f"witness.{workspace.id}")
    return {
        "origin": f"synthfactory/{workspace.id}",
        "public_key": (audit / "log.key.pub").read_text().strip(),
        "witness_public_key": (audit / "witness.key.pub").read_text().strip(),
    }


def open_workspace_log(
    workspace: Workspace, *, known_secrets: Iterable[str] = (), witness_dir: Path | None = None
) -> SqliteAuditLog:
    """The workspace's audit log, creating its keys and witness on first use."""
    audit = workspace.root / "audit"
    origin = audit_manifest(workspace)["origin"]
    log_key, witness_key = audit / "log.key", audit / "witness.key"
    signer = load_signer(log_key)
    witness = DirectoryWitness(
        witness_dir or audit / "witness", load_signer(witness_key), [signer.verifier]
    )
    return SqliteAuditLog(
        audit / "log.sqlite",
        signer,
        origin=origin,
        witnesses=[witness],
        known_secrets=known_secrets,
    )


@dataclass(frozen=True)
class _DigestLater:
    """A snapshot of content whose digest is computed off the event loop, at write time."""

    blob: bytes
    row: bool = False

    def resolve(self) -> str:
        value = orjson.loads(self.blob)
        if self.row:
            value = _without_nulls(value)
        # Straight from parsed JSON: string keys and finite numbers by construction, so
        # the canonical bytes need no normalizing walk (digest() of a value would do one).
        return digest(dumps_normalized(value))


def _later(value: Any, *, row: bool = False) -> _DigestLater:
    # orjson.dumps is a fast, C-level snapshot of a payload that the run keeps mutating.
    return _DigestLater(orjson.dumps(value), row)


_Pending = tuple[str, int, str, int, dict[str, Any]]


class AuditRecorder:
    """Builds and appends the provenance records of one run.

    The driver's event loop only queues snapshots (:meth:`take` hands them over); the
    records are built, secret-checked, hashed and written by :meth:`write` on a worker
    thread, so canonical JSON, SHA-256 and the log's fsync never stall model calls. A lock
    keeps writes in order whichever thread makes them.
    """

    def __init__(
        self,
        log: SqliteAuditLog,
        *,
        run_id: str,
        recipe: Recipe,
        endpoints: Mapping[str, EndpointConfig],
    ) -> None:
        self.log = log
        self._run_id = run_id
        self._recipe = recipe
        self._recipe_digest = "sha256:" + recipe.digest()
        self._worker = f"{socket.gethostname()}:{os.getpid()}"
        self._licenses = {
            f"model:{cfg.model}": cfg.license for cfg in endpoints.values() if cfg.license
        }
        self._templates: dict[str, str] = {}
        self._pending: list[_Pending] = []
        self._lock = threading.RLock()
        self.broken: BaseException | None = None
        """What made a write fail; from then on every write fails with it (the records of
        that batch are lost, so a later one would leave a gap no resume could fill)."""

    def _record(self, item: ItemRecord, step: str, attempt: int, **fields: Any) -> None:
        self._pending.append((item.item_id, item.seed, step, attempt, fields))

    def take(self) -> list[_Pending]:
        """Hand over what was queued so far (call on the event loop)."""
        batch, self._pending = self._pending, []
        return batch

    def write(self, batch: list[_Pending]) -> None:
        """Build, append and commit ``batch`` (any thread; durable when this returns).

        A full disk raises :class:`~synthfactory.errors.DiskFullError` naming the log."""
        self._guarded(self._write, batch)

    def _guarded(self, write: Callable[..., object], *args: Any) -> None:
        with self._lock:
            if self.broken is not None:
                raise self.broken
            try:
                write(*args)
            except Exception as err:
                full = disk_full_error(err, f"the audit log at {self.log.path}")
                self.broken = full or err
                if full is None:
                    raise
                raise full from None

    def _write(self, batch: list[_Pending]) -> None:
        with self._lock:
            records = []
            for item_id, seed, step, attempt, fields in batch:
                resolved: dict[str, Any] = {
                    k: v.resolve() if isinstance(v, _DigestLater) else v for k, v in fields.items()
                }
                records.append(
                    ProvenanceRecord(
                        item_id=item_id,
                        run_id=self._run_id,
                        step=step,
                        attempt=attempt,
                        recipe_name=self._recipe.name,
                        recipe_version=self._recipe.version,
                        recipe_digest=self._recipe_digest,
                        seed=resolved.pop("seed", seed),
                        worker=resolved.pop("worker", self._worker),
                        **resolved,
                    )
                )
            if records:
                self.log.append(records)
            self.log.flush()

    def checkpoint(self, batch: list[_Pending]) -> None:
        """Write ``batch``, then sign (and have the witness cosign) the tree head."""
        with self._lock:
            self.write(batch)
            self._guarded(self.log.checkpoint)

    def close(self) -> None:
        """Write what is left, checkpoint, and close the log (only close it if a write
        failed: what is left cannot be written without a gap)."""
        with self._lock:
            try:
                if self.broken is None:
                    self.checkpoint(self.take())
            finally:
                self.log.close()

    def _template_digest(self, step: ModelStep) -> str:
        found = self._templates.get(step.name)
        if found is None:
            found = digest({"system": step.system, "prompt": step.prompt})
            self._templates[step.name] = found
        return found

    def model_attempt(
        self,
        item: ItemRecord,
        step: ModelStep,
        attempt: int,
        *,
        request: ChatRequest,
        response: ChatResponse | None,
        cached: bool,
        cost: float,
        status: str,
        error: str | None,
        started: float,
        finished: float,
    ) -> None:
        """One model call attempt (a cache hit included: it is what the item used)."""
        self._record(
            item,
            step.name,
            attempt,
            started_at=started,
            finished_at=finished,
            status=status,
            model=response.model if response else request.model,
            endpoint_role=step.role,
            prompt_template_digest=self._template_digest(step),
            request_digest="sha256:" + request.key(),
            sampling=dict(request.params),
            seed=request.seed,
            response_digest=_later(response.content) if response else None,
            cached=cached,
            prompt_tokens=0 if cached or response is None else response.prompt_tokens,
            completion_tokens=0 if cached or response is None else response.completion_tokens,
            cost=cost,
            error=error,
            licenses=self._licenses,
        )

    def cpu_attempt(
        self,
        item: ItemRecord,
        step: str,
        attempt: int,
        *,
        status: str,
        verdict: Verdict | None,
        error: str | None,
        started: float,
        finished: float,
        worker: str = "",
    ) -> None:
        """One Python or verifier step attempt, with its verdict if it gave one."""
        verdicts: tuple[VerdictEntry, ...] = ()
        isolation: tuple[str, ...] = ()
        if verdict is not None:
            verdicts = (VerdictEntry(step, verdict.status, verdict.tier, verdict.reason[:500]),)
            isolation = tuple(verdict.details.get("isolation", ()))
        self._record(
            item,
            step,
            attempt,
            started_at=started,
            finished_at=finished,
            status=status,
            verdicts=verdicts,
            isolation_layers=isolation,
            error=error[:500] if error else None,
            worker=worker or self._worker,
            output_digest=_later(item.payload),
        )

    def canary(
        self,
        probe: ItemRecord,
        step: str,
        *,
        parent: str,
        tier: str,
        bad: bool,
        source: str,
        label: str,
        status: str,
        reason: str,
        started: float,
        finished: float,
    ) -> None:
        """One canary verdict: the known-bad or known-good payload a tier was measured on,
        filed under the canary's own id with the item whose stream it joined as parent."""
        self._record(
            probe,
            f"canary:{step}",
            0,
            started_at=started,
            finished_at=finished,
            status=status,
            parents=(parent,),
            verdicts=(VerdictEntry(step, status, tier, reason[:500]),),
            output_digest=_later(probe.payload),
            extra={"canary": "bad" if bad else "good", "source": source, "label": label[:200]},
        )

    def decision(
        self,
        item: ItemRecord,
        *,
        accepted: bool,
        finished: float,
        row: Mapping[str, Any] | None = None,
    ) -> None:
        """The item's end: accepted (with the digest of the dataset row it becomes) or not."""
        self._record(
            item,
            "decision",
            0,
            started_at=finished,
            finished_at=finished,
            status=item.state,
            decision="accept" if accepted else "reject",
            output_digest=_later(row, row=True) if row is not None else _later(item.payload),
            verdicts=tuple(
                VerdictEntry(
                    v["step"], v["status"], v.get("tier", "cheap"), str(v.get("reason", ""))[:500]
                )
                for v in item.verdicts
            ),
            error=item.error[:500] if item.error else None,
            dedup=_dedup_decision(item.verdicts, {s.name for s in self._recipe.dedup_steps}),
        )


def _dedup_decision(verdicts: list[dict[str, Any]], steps: set[str]) -> DedupDecision | None:
    """What the item's last dedup step decided (None if it reached none)."""
    for v in reversed(verdicts):
        details = v.get("details") or {}
        if v.get("step") not in steps or "method" not in details:
            continue
        if v.get("status") == "pass":
            return DedupDecision("unique", details["method"])
        return DedupDecision(
            "duplicate", details["method"], details.get("duplicate_of"), details.get("similarity")
        )
    return None
