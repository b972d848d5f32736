"""Verdicts: a verifier's answer is data, never an exception."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

VerdictStatus = Literal["pass", "fail", "timeout", "infra_error", "sandbox_violation"]

VERDICT_STATUSES: tuple[VerdictStatus, ...] = (
    "pass",
    "fail",
    "timeout",
    "infra_error",
    "sandbox_violation",
)


@dataclass(frozen=True)
class Verdict:
    """What one verifier said about one item.

    ``infra_error`` means the verifier could not do its job (a crashed worker, a missing
    sandbox layer): the item is retried and never counted as a failed example.
    """

    status: VerdictStatus
    reason: str = ""
    tier: str = "cheap"
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in VERDICT_STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}; one of {VERDICT_STATUSES}")

    @property
    def passed(self) -> bool:
        """True when the item passed this verifier."""
        return self.status == "pass"

    @classmethod
    def ok(cls, reason: str = "", *, tier: str = "cheap") -> Verdict:
        """A passing verdict."""
        return cls("pass", reason, tier)

    @classmethod
    def reject(cls, reason: str, *, tier: str = "cheap") -> Verdict:
        """A failing verdict with its reason."""
        return cls("fail", reason, tier)

    @classmethod
    def unsure(cls, reason: str, *, tier: str = "cheap") -> Verdict:
        """No decision: the item goes on, and every later sampled tier must run on it."""
        return cls("pass", reason, tier, {"uncertain": True})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, as stored in the ledger."""
        return {
            "status": self.status,
            "reason": self.reason,
            "tier": self.tier,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """Inverse of :meth:`to_dict`."""
        return cls(
            data["status"],
            data.get("reason", ""),
            data.get("tier", "cheap"),
            dict(data.get("details") or {}),
        )
