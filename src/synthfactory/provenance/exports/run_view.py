"""What every export reads of a run, once: its record, counts, commits, tier stats and
measured quality from the ledger, its rows from the dataset store, its endpoints with
anything secret stripped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from synthfactory.errors import UserInputError

# Run states that are over; anything else (created, running) is still in progress.
TERMINAL = {
    "finished": "COMPLETE",
    "exhausted": "FAIL",  # the item budget ran out before the target: not what was asked
    "stopped": "FAIL",
    "crashed": "FAIL",
    "interrupted": "ABORT",
}


def rfc3339(ts: float) -> str:
    """A Unix time as RFC 3339 UTC with microseconds (``...Z``)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def public_url(url: str) -> str:
    """``url`` without user, password, query or fragment: none of them belongs in an export."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def public_endpoint(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A stored endpoint as an export may show it: no API key, its URL made public."""
    out = {k: v for k, v in cfg.items() if k != "api_key"}
    if isinstance(out.get("url"), str):
        out["url"] = public_url(out["url"])
    return out


class RunView:
    """What the exports need of one run, read once from the workspace."""

    def __init__(self, workspace: Path, run_id: str) -> None:
        from synthfactory.ledger import Ledger
        from synthfactory.verify.quality import run_quality
        from synthfactory.verify.tiers import tier_stats
        from synthfactory.workspace import Workspace

        self.workspace = Workspace(workspace, create=False)
        ledger = Ledger(self.workspace.ledger_path)
        try:
            self.run = ledger.run(run_id)
            self.counts = ledger.counts(run_id)
            self.commits = ledger.commits(run_id)
            self.tiers = tier_stats(ledger.verdicts(run_id))
            # Ids and counts only: a verifier's reasons are content, and stay in the ledger.
            self.quality = run_quality(ledger, run_id).to_dict(reasons=False)
        finally:
            ledger.close()
        self.endpoints: dict[str, dict[str, Any]] = {
            role: public_endpoint(cfg) for role, cfg in self.run.config.get("endpoints", {}).items()
        }

    @property
    def dataset_uri(self) -> str:
        """Where the run's dataset is stored."""
        return self.workspace.dataset_uri(self.run.dataset)

    def table(self) -> Any:
        """The run's rows (a ``pyarrow.Table``), empty if nothing was stored."""
        from synthfactory.store.lance import LanceStore

        return LanceStore(self.dataset_uri).read(run_id=self.run.run_id)

    def require_finished(self) -> None:
        """Refuse a run that is still in progress (created or running)."""
        if self.run.status not in TERMINAL:
            raise UserInputError(
                f"run {self.run.run_id} is {self.run.status}; exports describe a finished run "
                "(wait for it, or resume it)"
            )


__all__ = ["TERMINAL", "RunView", "public_endpoint", "public_url", "rfc3339"]
