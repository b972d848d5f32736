"""The provenance record: what happened in one attempt at one step of one item.

One record per step attempt, rejections and errors included. A record holds digests of
content (prompts, requests, responses, tool arguments, the example itself), never the
content: erasing an example's content later leaves the record, and so every proof, intact,
while a kept copy of the content can still be checked against its digest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from synthfactory.provenance.canonical import JSONValue, normalize

RECORD_VERSION = 1
Decision = Literal["accept", "reject"]

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _check_digest(name: str, value: str | None) -> None:
    if value is not None and not _DIGEST.match(value):
        raise ValueError(
            f"{name} must be a digest 'sha256:<64 hex>' (see provenance.digest), not content"
        )


@dataclass(frozen=True)
class ToolCall:
    """One tool call made during the attempt: its name and digests of its input and output."""

    name: str
    arguments_digest: str | None = None
    result_digest: str | None = None
    status: str = "ok"

    def __post_init__(self) -> None:
        _check_digest("ToolCall.arguments_digest", self.arguments_digest)
        _check_digest("ToolCall.result_digest", self.result_digest)


@dataclass(frozen=True)
class VerdictEntry:
    """What one verifier said: its name, status (pass, fail, ...), tier and short reason."""

    verifier: str
    status: str
    tier: str = "cheap"
    reason: str = ""


@dataclass(frozen=True)
class DedupDecision:
    """The dedup stage's decision: ``unique`` or ``duplicate`` (of which item, by which method)."""

    decision: str
    method: str = ""
    duplicate_of: str | None = None
    similarity: float | None = None


@dataclass(frozen=True)
class QaEntry:
    """An acceptance-sampling check of a stored item (``synthfactory qa``): which verifier
    said what (``correct``, ``defective``, ``unsure`` or ``error``), in which seeded sample,
    and the digest of its reason (the reason itself stays in the ledger)."""

    verifier: str
    verdict: str
    sample_seed: int
    reason_digest: str | None = None

    def __post_init__(self) -> None:
        _check_digest("QaEntry.reason_digest", self.reason_digest)


@dataclass(frozen=True)
class ProvenanceRecord:
    """One step attempt of one item, as the audit log keeps it forever.

    Every ``*_digest`` field is ``sha256:<hex>`` of the content it stands for (use
    :func:`synthfactory.provenance.digest`). ``model`` is the model id as the endpoint served
    it and ``endpoint_role`` the recipe's role name: never a URL with credentials, never a key.
    ``licenses`` maps each input or model to its license or terms
    (``{"model:qwen2.5-coder-1.5b": "Apache-2.0"}``).
    ``extra`` holds anything else JSON-ready a step wants to state. ``qa`` marks a record
    of an acceptance-sampling check (step ``qa``), made after the item was stored; it is
    written only when set, so records without it encode as they always did.
    """

    item_id: str
    run_id: str
    step: str
    attempt: int
    recipe_name: str
    recipe_version: str
    recipe_digest: str
    started_at: float
    finished_at: float
    status: str = "ok"
    parents: tuple[str, ...] = ()
    model: str | None = None
    endpoint_role: str | None = None
    prompt_template_digest: str | None = None
    request_digest: str | None = None
    sampling: Mapping[str, JSONValue] = field(default_factory=dict)
    seed: int | None = None
    response_digest: str | None = None
    output_digest: str | None = None
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    tool_calls: tuple[ToolCall, ...] = ()
    isolation_layers: tuple[str, ...] = ()
    verdicts: tuple[VerdictEntry, ...] = ()
    dedup: DedupDecision | None = None
    qa: QaEntry | None = None
    decision: Decision | None = None
    error: str | None = None
    worker: str = ""
    licenses: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, JSONValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "recipe_digest",
            "prompt_template_digest",
            "request_digest",
            "response_digest",
            "output_digest",
        ):
            _check_digest(name, getattr(self, name))
        if self.decision not in (None, "accept", "reject"):
            raise ValueError(f"decision must be 'accept', 'reject' or None, not {self.decision!r}")
        if not self.item_id:
            raise ValueError("a provenance record needs an item_id")

    def to_dict(self) -> dict[str, JSONValue]:
        """The record as plain JSON-ready data (the form that is canonically encoded)."""
        out: dict[str, JSONValue] = {
            "v": RECORD_VERSION,
            "item_id": self.item_id,
            "run_id": self.run_id,
            "step": self.step,
            "attempt": self.attempt,
            "status": self.status,
            "recipe": {
                "name": self.recipe_name,
                "version": self.recipe_version,
                "digest": self.recipe_digest,
            },
            "parents": list(self.parents),
            "model": self.model,
            "endpoint_role": self.endpoint_role,
            "prompt_template_digest": self.prompt_template_digest,
            "request_digest": self.request_digest,
            "sampling": normalize(self.sampling, "sampling"),
            "seed": self.seed,
            "response_digest": self.response_digest,
            "output_digest": self.output_digest,
            "cached": self.cached,
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost": normalize(float(self.cost), "cost"),
            },
            "tool_calls": [
                {
                    "name": t.name,
                    "arguments_digest": t.arguments_digest,
                    "result_digest": t.result_digest,
                    "status": t.status,
                }
                for t in self.tool_calls
            ],
            "isolation_layers": list(self.isolation_layers),
            "verdicts": [
                {"verifier": v.verifier, "status": v.status, "tier": v.tier, "reason": v.reason}
                for v in self.verdicts
            ],
            "dedup": None
            if self.dedup is None
            else {
                "decision": self.dedup.decision,
                "method": self.dedup.method,
                "duplicate_of": self.dedup.duplicate_of,
                "similarity": normalize(self.dedup.similarity, "dedup.similarity"),
            },
            "decision": self.decision,
            "error": self.error,
            "worker": self.worker,
            "time": {
                "started_at": normalize(float(self.started_at), "started_at"),
                "finished_at": normalize(float(self.finished_at), "finished_at"),
            },
            "licenses": normalize(self.licenses, "licenses"),
            "extra": normalize(self.extra, "extra"),
        }
        if self.qa is not None:
            out["qa"] = {
                "verifier": self.qa.verifier,
                "verdict": self.qa.verdict,
                "sample_seed": self.qa.sample_seed,
                "reason_digest": self.qa.reason_digest,
            }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProvenanceRecord:
        """Rebuild a record from :meth:`to_dict`'s form; :class:`ValueError` if malformed."""
        if data.get("v") != RECORD_VERSION:
            raise ValueError(f"unknown provenance record version {data.get('v')!r}")
        try:
            recipe, usage, when = data["recipe"], data["usage"], data["time"]
            dedup, qa = data["dedup"], data.get("qa")
            return cls(
                item_id=data["item_id"],
                run_id=data["run_id"],
                step=data["step"],
                attempt=data["attempt"],
                status=data["status"],
                recipe_name=recipe["name"],
                recipe_version=recipe["version"],
                recipe_digest=recipe["digest"],
                parents=tuple(data["parents"]),
                model=data["model"],
                endpoint_role=data["endpoint_role"],
                prompt_template_digest=data["prompt_template_digest"],
                request_digest=data["request_digest"],
                sampling=data["sampling"],
                seed=data["seed"],
                response_digest=data["response_digest"],
                output_digest=data["output_digest"],
                cached=data["cached"],
                prompt_tokens=usage["prompt_tokens"],
                completion_tokens=usage["completion_tokens"],
                cost=usage["cost"],
                tool_calls=tuple(ToolCall(**t) for t in data["tool_calls"]),
                isolation_layers=tuple(data["isolation_layers"]),
                verdicts=tuple(VerdictEntry(**v) for v in data["verdicts"]),
                dedup=None if dedup is None else DedupDecision(**dedup),
                qa=None if qa is None else QaEntry(**qa),
                decision=data["decision"],
                error=data["error"],
                worker=data["worker"],
                started_at=when["started_at"],
                finished_at=when["finished_at"],
                licenses=data["licenses"],
                extra=data["extra"],
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"malformed provenance record: {err!r}") from None


__all__ = [
    "RECORD_VERSION",
    "Decision",
    "DedupDecision",
    "ProvenanceRecord",
    "QaEntry",
    "ToolCall",
    "VerdictEntry",
]
