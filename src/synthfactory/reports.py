"""Read-side functions behind ``status``, ``show`` and ``export`` (the CLI and the service
call these; they never write to a run)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthfactory.errors import NotFoundError
from synthfactory.ledger import Ledger
from synthfactory.runtime.runs import run_summary
from synthfactory.runtime.summary import effective_status
from synthfactory.workspace import Workspace

if TYPE_CHECKING:
    from synthfactory.dedup.embedders import Embedder


def _open(workspace: str | Path) -> tuple[Workspace, Ledger]:
    ws = Workspace(workspace, create=False)
    return ws, Ledger(ws.ledger_to_read)


def list_runs(workspace: str | Path) -> list[dict[str, Any]]:
    """Every run in the workspace, newest first, with its stored count."""
    ws, ledger = _open(workspace)
    try:
        return [
            {
                "run_id": r.run_id,
                "recipe": r.recipe_name,
                "status": effective_status(ws, r.run_id, r.status, r.message)[0],
                "target": int(r.config["run"]["target"]),
                "stored": ledger.counts(r.run_id)["stored"],
                "dataset": r.dataset,
                "created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.created_at)),
            }
            for r in ledger.runs()
        ]
    finally:
        ledger.close()


def run_report(
    workspace: str | Path, run_id: str, *, failed: bool = False, embedder: Embedder | None = None
) -> dict[str, Any]:
    """A run's summary; with ``failed``, its failed and rejected items too; with
    ``embedder``, the diversity report measured on its embeddings."""
    ws, ledger = _open(workspace)
    try:
        report = run_summary(ledger, ws, run_id, embedder=embedder).to_dict()
        run = ledger.run(run_id)
        report["endpoints"] = run.config.get("endpoints", {})
        report["recipe_digest"] = run.recipe_digest
        report["audit"] = run.config.get("audit")
        if failed:
            report["failed_items"] = [
                {"item_id": i.item_id, "state": i.state, "attempts": i.attempts, "error": i.error}
                for i in ledger.items(run_id, ["failed", "rejected"])
            ]
        return report
    finally:
        ledger.close()


def item_report(workspace: str | Path, item_id: str) -> dict[str, Any]:
    """One item: payload, state, error, verdicts and every step attempt."""
    _, ledger = _open(workspace)
    try:
        item = ledger.item(item_id)
        return {
            "item_id": item.item_id,
            "run_id": item.run_id,
            "index": item.index,
            "seed": item.seed,
            "state": item.state,
            "error": item.error,
            "payload": item.payload,
            "verdicts": item.verdicts,
            "dataset_version": item.dataset_version,
            "attempts": [
                {
                    "step": a.step,
                    "attempt": a.attempt,
                    "status": a.status,
                    "error": a.error,
                    "role": a.role,
                    "model": a.model,
                    "request_key": a.request_key,
                    "cached": a.cached,
                    "prompt_tokens": a.prompt_tokens,
                    "completion_tokens": a.completion_tokens,
                    "cost": a.cost,
                    "seconds": round(a.finished_at - a.started_at, 4),
                }
                for a in ledger.attempts(item_id)
            ],
        }
    finally:
        ledger.close()


def export(
    workspace: str | Path, source: str, fmt: str, out: Path, *, version: int | None = None
) -> tuple[Path, int]:
    """Export run ``source``'s rows, or dataset ``source`` whole; returns (path, rows)."""
    from synthfactory.store.export import export_table
    from synthfactory.store.lance import LanceStore

    ws, ledger = _open(workspace)
    try:
        run_id: str | None = None
        try:
            dataset = ledger.run(source).dataset
            run_id = source
        except NotFoundError:
            dataset = source
            if not Path(ws.dataset_uri(dataset)).exists():
                raise NotFoundError(
                    f"{source!r} is neither a run id nor a dataset in {ws.root}; "
                    "`synthfactory status` lists runs"
                ) from None
    finally:
        ledger.close()
    table = LanceStore(ws.dataset_uri(dataset)).read(run_id=run_id, version=version)
    return export_table(table, fmt, out), table.num_rows
