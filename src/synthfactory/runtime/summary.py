"""What a run did, from the ledger alone (no executor, no endpoint needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synthfactory.ledger import Ledger
from synthfactory.runtime.diversity import diversity_report
from synthfactory.runtime.progress import RunSummary
from synthfactory.verify.canaries import Canaries, tier_quality
from synthfactory.verify.quality import run_quality
from synthfactory.verify.tiers import tier_stats
from synthfactory.workspace import Workspace

if TYPE_CHECKING:
    from synthfactory.dedup.embedders import Embedder


def verifier_quality(
    ledger: Ledger, run_id: str, plan: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Per tier, what the run's canaries measured: catch rate on known-bad canaries,
    false-reject rate on known-good ones (Wilson 95% bounds), and the floor verdict."""
    checks = ledger.canary_checks(run_id)
    if not checks:
        return {}
    plan = plan or {}
    floors = Canaries(
        floors=dict(plan.get("floors") or {}), min_count=int(plan.get("min_count") or 10)
    )
    return {tier: q.to_dict() for tier, q in tier_quality(checks, floors).items()}


#: What a run left "running" by a driver that no longer exists says instead.
GONE_MESSAGE = (
    "the process driving this run is gone (killed, or its machine lost) before it could "
    "record how it ended; resume it to carry on"
)


def effective_status(
    workspace: Workspace, run_id: str, status: str, message: str
) -> tuple[str, str]:
    """The run's status as a reader should see it: "running" only while a live process
    holds the run's lock; a run whose driver died says "interrupted"."""
    if status == "running" and not workspace.run_is_driven(run_id):
        return "interrupted", GONE_MESSAGE
    return status, message


def run_summary(
    ledger: Ledger, workspace: Workspace, run_id: str, *, embedder: Embedder | None = None
) -> RunSummary:
    """The summary of run ``run_id`` as the ledger has it (``embedder``: measure the
    diversity report's spread on real embeddings instead of lexical vectors)."""
    run = ledger.run(run_id)
    counts = ledger.counts(run_id)
    usage = ledger.usage(run_id)
    hourly = sum(
        float(cfg.get("price_hour", 0.0)) for cfg in run.config.get("endpoints", {}).values()
    )
    cost = float(usage["token_cost"]) + hourly * run.active_s / 3600
    commits = ledger.commits(run_id)
    usable = counts["stored"]
    status, message = effective_status(workspace, run_id, run.status, run.message)
    return RunSummary(
        run_id=run_id,
        status=status,
        message=message,
        recipe=run.recipe_name,
        target=int(run.config["run"]["target"]),
        generated=sum(counts.values()),
        passed=counts["passed"] + counts["stored"],
        failed=counts["failed"] + counts["rejected"],
        rejected=counts["rejected"],
        stored=usable,
        model_calls=int(usage["model_calls"]),
        cache_hits=int(usage["cache_hits"]),
        prompt_tokens=int(usage["prompt_tokens"]),
        completion_tokens=int(usage["completion_tokens"]),
        cost=cost,
        cost_per_usable=cost / usable if usable else None,
        elapsed_s=run.active_s,
        dataset=run.dataset,
        dataset_uri=workspace.dataset_uri(run.dataset),
        dataset_version=commits[-1][1] if commits else None,
        tiers=tier_stats(ledger.verdicts(run_id)),
        diversity=diversity_report(ledger, run_id, run.config.get("diversity"), embedder),
        verifier_quality=verifier_quality(ledger, run_id, run.config.get("canaries")),
        quality=run_quality(ledger, run_id).to_dict(),
    )


__all__ = ["run_summary", "verifier_quality"]
