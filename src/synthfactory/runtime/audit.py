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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from synthfactory.ledger import ItemRecord
from synthfactory.models.client import ChatRequest, ChatResponse
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.provenance import (
    DirectoryWitness,
    ProvenanceRecord,
    SqliteAuditLog,
    VerdictEntry,
    digest,
    generate_key,
    load_signer,
)
from synthfactory.recipe.model import ModelStep, Recipe
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
        table = LanceStore(str(path)).read()
        for row in table.to_pylist():
            item_id = row.get("item_id")
            accepts = [
                record for _, record in log.records_for(str(item_id)) if record.decision == "accept"
            ]
            if not accepts:
                return f"dataset {path.stem}: row {item_id} has no accept record in the audit log"
            if accepts[-1].output_digest != row_digest(row):
                return (
                    f"dataset {path.stem}: row {item_id} does not match its accept record "
                    f"(the row was changed after it was stored)"
                )
    return None


def open_workspace_log(
    workspace: Workspace, *, known_secrets: Iterable[str] = (), witness_dir: Path | None = None
) -> SqliteAuditLog:
    """The workspace's audit log, creating its keys and witness on first use."""
    audit = workspace.root / "audit"
    audit.mkdir(exist_ok=True)
    origin = f"synthfactory/{workspace.id}"
    log_key, witness_key = audit / "log.key", audit / "witness.key"
    if not log_key.exists():
        generate_key(log_key, f"log.{workspace.id}")
    if not witness_key.exists():
        generate_key(witness_key, f"witness.{workspace.id}")
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


class AuditRecorder:
    """Builds and appends the provenance records of one run."""

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

    def _record(self, item: ItemRecord, step: str, attempt: int, **fields: Any) -> None:
        self.log.append(
            [
                ProvenanceRecord(
                    item_id=item.item_id,
                    run_id=self._run_id,
                    step=step,
                    attempt=attempt,
                    recipe_name=self._recipe.name,
                    recipe_version=self._recipe.version,
                    recipe_digest=self._recipe_digest,
                    seed=fields.pop("seed", item.seed),
                    worker=fields.pop("worker", self._worker),
                    **fields,
                )
            ]
        )

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
            prompt_template_digest=digest({"system": step.system, "prompt": step.prompt}),
            request_digest="sha256:" + request.key(),
            sampling=dict(request.params),
            seed=request.seed,
            response_digest=digest(response.content) if response else None,
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
            output_digest=digest(item.payload),
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
            output_digest=row_digest(row) if row is not None else digest(item.payload),
            verdicts=tuple(
                VerdictEntry(v["step"], v["status"], v.get("tier", "cheap"), v.get("reason", ""))
                for v in item.verdicts
            ),
            error=item.error[:500] if item.error else None,
        )
