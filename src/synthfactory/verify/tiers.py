"""Tiered verification bookkeeping: escalation, skips, and pass rates per tier.

An item's ``verdicts`` (in the ledger) is a list of dicts, one per verifier step that ran,
plus one ``{"status": "skipped"}`` entry per sampled tier that did not run on it, so every
item says which checks it went through and which it did not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from synthfactory.verdict import Verdict


def is_escalated(verdicts: Iterable[Mapping[str, Any]]) -> bool:
    """True once a tier passed the item but said it was unsure: later tiers must decide."""
    return any(
        v.get("status") == "pass" and (v.get("details") or {}).get("uncertain") for v in verdicts
    )


def verdict_entry(
    step: str, verdict: Verdict, *, cpu_s: float = 0.0, cost: float = 0.0
) -> dict[str, Any]:
    """The ledger form of a verdict, with what it cost: CPU seconds (of the verifier, the
    sandboxed job, or the driver for a judge) and model cost in USD."""
    return {"step": step, **verdict.to_dict(), "cpu_s": round(cpu_s, 6), "cost": cost}


def skipped_entry(step: str, tier: str, reason: str) -> dict[str, Any]:
    """The ledger form of a tier that did not run on an item."""
    return {"step": step, "status": "skipped", "tier": tier, "reason": reason, "details": {}}


def tier_stats(all_verdicts: Iterable[Iterable[Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per tier: items it ran on, passed, failed (by status), skipped; pass rate; CPU
    seconds and cost spent; and what the skips saved, estimated at the tier's mean cost per
    run (what running every tier on every item would have added)."""
    stats: dict[str, dict[str, Any]] = {}
    for verdicts in all_verdicts:
        for v in verdicts:
            tier = str(v.get("tier", "cheap"))
            s = stats.setdefault(
                tier,
                {"ran": 0, "passed": 0, "failed": 0, "skipped": 0, "by_status": {},
                 "cpu_s": 0.0, "cost": 0.0},
            )  # fmt: skip
            status = str(v.get("status"))
            if status == "skipped":
                s["skipped"] += 1
                continue
            s["ran"] += 1
            s["cpu_s"] += float(v.get("cpu_s") or 0.0)
            s["cost"] += float(v.get("cost") or 0.0)
            s["by_status"][status] = s["by_status"].get(status, 0) + 1
            if status == "pass":
                s["passed"] += 1
            elif status != "infra_error":  # retried, never counted against an example
                s["failed"] += 1
    for s in stats.values():
        judged = s["passed"] + s["failed"]
        s["pass_rate"] = s["passed"] / judged if judged else None
        per_run = (s["cpu_s"] / s["ran"], s["cost"] / s["ran"]) if s["ran"] else (0.0, 0.0)
        s["saved_cpu_s_est"] = s["skipped"] * per_run[0]
        s["saved_cost_est"] = s["skipped"] * per_run[1]
    return stats
