"""What a run reports while it goes, and what it says when it ends."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Progress:
    """A snapshot of a running run, for a live display."""

    run_id: str
    target: int
    stored: int
    passed: int
    rejected: int
    failed: int
    in_flight: int
    model_calls: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    elapsed_s: float

    @property
    def usable(self) -> int:
        """Items that passed every verifier (stored or about to be)."""
        return self.passed + self.stored

    @property
    def pass_rate(self) -> float | None:
        """usable / (usable + rejected), or ``None`` before any verdict."""
        judged = self.usable + self.rejected
        return self.usable / judged if judged else None

    @property
    def eta_s(self) -> float | None:
        """Seconds to the target at the current rate, if there is a rate."""
        if self.usable == 0 or self.elapsed_s <= 0:
            return None
        rate = self.usable / self.elapsed_s
        return max(0.0, (self.target - self.usable) / rate)


class ProgressObserver(Protocol):
    """Anything that wants progress snapshots (the CLI's live display, a test)."""

    def __call__(self, progress: Progress) -> None: ...


@dataclass(frozen=True)
class RunSummary:
    """What a run did: the JSON the CLI prints with ``--json``.

    ``quality`` is what acceptance sampling (``synthfactory qa``) measured: the defect-rate
    estimate with its Wilson 95% bounds, the SLA, and whether the run is releasable
    (:meth:`synthfactory.verify.quality.RunQuality.to_dict`).
    """

    run_id: str
    status: str
    message: str
    recipe: str
    target: int
    generated: int
    passed: int
    failed: int
    rejected: int
    stored: int
    model_calls: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    cost_per_usable: float | None
    elapsed_s: float
    dataset: str
    dataset_uri: str
    dataset_version: int | None
    tiers: dict[str, dict[str, Any]] = field(default_factory=dict)
    diversity: dict[str, Any] = field(default_factory=dict)
    verifier_quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        out = asdict(self)
        out["counts"] = {
            "generated": self.generated,
            "passed": self.passed,
            "failed": self.failed,
            "rejected": self.rejected,
            "stored": self.stored,
        }
        out["tokens"] = {
            "prompt": self.prompt_tokens,
            "completion": self.completion_tokens,
            "total": self.prompt_tokens + self.completion_tokens,
        }
        return out
