"""A run's measured quality, read from the ledger: the defect rate its acceptance sample
supports (Wilson 95% interval), held to its quality SLA, and whether it is releasable.

:mod:`~synthfactory.verify.qa` draws the sample and records the checks; this module only
reads them, so the run summary and the exports can state a run's quality without the
sampling machinery (or the audit log it writes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from synthfactory.ledger import Ledger, QaCheckRecord, RunRecord
from synthfactory.verify.stats import Rate

QualityStatus = Literal["correct", "defective", "unsure", "error"]
QUALITY_STATUSES: tuple[QualityStatus, ...] = ("correct", "defective", "unsure", "error")


# -- the estimate (pure) -----------------------------------------------------------------


@dataclass(frozen=True)
class QualityEstimate:
    """Counts of settled checks and the defect rate they support."""

    defective: int = 0
    correct: int = 0
    unsure: int = 0
    errors: int = 0

    @property
    def judged(self) -> int:
        """Items with a judgement (correct or defective): the denominator."""
        return self.defective + self.correct

    @property
    def checked(self) -> int:
        """Items checked in all, unsure and errors included."""
        return self.judged + self.unsure + self.errors

    @property
    def rate(self) -> Rate:
        """defective / judged, with its Wilson 95% interval."""
        return Rate(self.defective, self.judged)

    @property
    def upper(self) -> float:
        """The Wilson 95% upper bound of the defect rate (1.0 with nothing judged)."""
        return self.rate.interval[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the counts, ``rate``, ``low`` and ``high``."""
        low, high = self.rate.interval
        return {
            "checked": self.checked,
            "judged": self.judged,
            "defective": self.defective,
            "correct": self.correct,
            "unsure": self.unsure,
            "errors": self.errors,
            "rate": self.rate.value,
            "low": low,
            "high": high,
        }

    def __str__(self) -> str:
        if not self.judged:
            return f"not measured ({self.checked} checked, none judged)"
        low, high = self.rate.interval
        return (
            f"{percent(self.rate.value or 0.0)} ({self.defective} of {self.judged} judged, "
            f"95% CI {percent(low)}-{percent(high)})"
        )


def estimate_defect_rate(verdicts: Iterable[str]) -> QualityEstimate:
    """The estimate from one verdict per sampled item (``correct``, ``defective``,
    ``unsure`` or ``error``)."""
    counts = dict.fromkeys(QUALITY_STATUSES, 0)
    for verdict in verdicts:
        if verdict not in counts:
            raise ValueError(f"unknown quality verdict {verdict!r}; one of {QUALITY_STATUSES}")
        counts[verdict] += 1
    return QualityEstimate(
        defective=counts["defective"],
        correct=counts["correct"],
        unsure=counts["unsure"],
        errors=counts["error"],
    )


def pooled_verdicts(checks: Iterable[QaCheckRecord]) -> dict[str, str]:
    """One verdict per item from every verifier's checks: defective if any verifier found it
    defective (a stronger check that finds a fault wins), else correct if one judged it
    correct, else unsure, else error."""
    rank = {"defective": 3, "correct": 2, "unsure": 1, "error": 0}
    out: dict[str, str] = {}
    for check in checks:
        seen = out.get(check.item_id)
        if seen is None or rank[check.verdict] > rank[seen]:
            out[check.item_id] = check.verdict
    return out


def percent(value: float) -> str:
    """``0.037`` as ``3.7%``."""
    return f"{value:.1%}"


# -- a run's quality ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunQuality:
    """What acceptance sampling has measured of a run, and whether it may be released."""

    run_id: str
    stored: int
    estimate: QualityEstimate
    by_verifier: dict[str, QualityEstimate]
    max_defect_rate: float | None
    releasable: bool
    reason: str
    defective_items: tuple[QaCheckRecord, ...] = ()

    def to_dict(self, *, reasons: bool = True) -> dict[str, Any]:
        """JSON-ready; without ``reasons`` the defective items are listed by id and
        verifier only (the exports: a verifier's reason is content)."""
        items = []
        for c in self.defective_items:
            entry = {"item_id": c.item_id, "verifier": c.verifier}
            if reasons:
                entry["reason"] = c.reason
            items.append(entry)
        return {
            **self.estimate.to_dict(),
            "stored": self.stored,
            "by_verifier": {name: e.to_dict() for name, e in sorted(self.by_verifier.items())},
            "max_defect_rate": self.max_defect_rate,
            "releasable": self.releasable,
            "reason": self.reason,
            "defective_items": items,
        }

    def describe(self) -> str:
        """One sentence for exports and summaries."""
        if not self.estimate.checked:
            measured = f"no acceptance sample of the {self.stored} stored item(s) yet"
        else:
            verifiers = ", ".join(sorted(self.by_verifier))
            measured = (
                f"defect rate {self.estimate} by acceptance sampling of "
                f"{self.estimate.checked} of {self.stored} stored item(s) ({verifiers}; "
                f"{self.estimate.unsure} unsure, {self.estimate.errors} error(s) not counted)"
            )
        sla = (
            "no quality SLA"
            if self.max_defect_rate is None
            else f"SLA max defect rate {percent(self.max_defect_rate)}"
        )
        state = "releasable" if self.releasable else "not releasable"
        return f"{measured}; {sla}; {state}: {self.reason}"


def run_quality(ledger: Ledger, run_id: str) -> RunQuality:
    """Run ``run_id``'s defect-rate estimate (every verifier's checks pooled per item), its
    SLA and whether it is releasable, from the ledger alone."""
    run = ledger.run(run_id)
    checks = ledger.qa_checks(run_id)
    estimate = estimate_defect_rate(pooled_verdicts(checks).values())
    by_verifier: dict[str, list[str]] = {}
    for check in checks:
        by_verifier.setdefault(check.verifier, []).append(check.verdict)
    sla = _sla(run)
    ok, reason = _releasable(run, estimate, sla)
    return RunQuality(
        run_id=run_id,
        stored=ledger.counts(run_id)["stored"],
        estimate=estimate,
        by_verifier={name: estimate_defect_rate(v) for name, v in by_verifier.items()},
        max_defect_rate=sla,
        releasable=ok,
        reason=reason,
        defective_items=tuple(c for c in checks if c.verdict == "defective"),
    )


def releasable(ledger: Ledger, run_id: str) -> tuple[bool, str]:
    """Whether run ``run_id`` may be released, and why (or why not).

    Releasable means: finished, and either no quality SLA or an acceptance sample whose
    Wilson 95% upper bound on the defect rate is at most ``max_defect_rate``.
    """
    quality = run_quality(ledger, run_id)
    return quality.releasable, quality.reason


def _sla(run: RunRecord) -> float | None:
    value = (run.config.get("run") or {}).get("max_defect_rate")
    return None if value is None else float(value)


def _releasable(run: RunRecord, estimate: QualityEstimate, sla: float | None) -> tuple[bool, str]:
    if run.status != "finished":
        return False, f"the run is {run.status}, not finished: resume it first"
    if sla is None:
        return True, "finished, with no quality SLA (--max-defect-rate) to meet"
    if not estimate.judged:
        return False, (
            f"no qa sample yet: run synthfactory qa {run.run_id} --sample N --verifier SPEC"
        )
    rate = estimate.rate.value or 0.0
    said = (
        f"defect rate {percent(rate)} ({estimate.defective} of {estimate.judged} judged, "
        f"95% upper bound {percent(estimate.upper)})"
    )
    if estimate.upper <= sla:
        return True, f"{said} within the SLA {percent(sla)}"
    return False, f"{said} above the SLA {percent(sla)}: check more items or fix the recipe"


__all__ = [
    "QUALITY_STATUSES",
    "QualityEstimate",
    "QualityStatus",
    "RunQuality",
    "estimate_defect_rate",
    "percent",
    "pooled_verdicts",
    "releasable",
    "run_quality",
]
