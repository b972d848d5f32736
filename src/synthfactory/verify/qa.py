"""Acceptance sampling: a run states its defect rate.

A run's verifiers decide what is stored; nothing in the run says how often they are wrong.
:func:`audit_quality` re-checks a seeded random sample of a run's *stored* items with a
stronger verifier (a larger model, a reference implementation, a person: see
:mod:`~synthfactory.verify.qa_verifiers`) and records, per item, what it said. The run's
defect rate is then ``defective / judged`` with its Wilson 95% interval; ``unsure`` answers
and errors are counted but left out of the denominator. Its upper bound is what a quality
SLA (``RunConfig.max_defect_rate``) is held to: :func:`releasable`.

Checks live in the ledger (``qa_checks``) and each one is appended to the workspace's audit
log (a record with step ``qa``: digests, never content). Calling :func:`audit_quality` again
draws further items from the same seeded order and never asks a verifier again about an item
it already settled, so ``qa`` grows its sample, is resumable after an interruption, and
never pays twice.
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import socket
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from synthfactory.errors import ConfigError, Fatal, SynthFactoryError, UserInputError
from synthfactory.ledger import ItemRecord, Ledger, QaCheckRecord, RunRecord
from synthfactory.seeds import derive_seed
from synthfactory.verify.quality import (
    QUALITY_STATUSES,
    QualityEstimate,
    QualityStatus,
    RunQuality,
    estimate_defect_rate,
    percent,
    pooled_verdicts,
    releasable,
    run_quality,
)
from synthfactory.workspace import Workspace

if TYPE_CHECKING:
    from synthfactory.provenance import ProvenanceRecord, SqliteAuditLog


# Journal writes are grouped, but never held longer than this: a person's answers (seconds
# apart) are each durable at once, a fast checker's are committed a batch at a time.
_FLUSH_EVERY_S = 0.25
_FLUSH_ROWS = 64


@dataclass(frozen=True)
class QualityVerdict:
    """What a quality verifier said of one stored example.

    ``defective`` and ``correct`` are judgements; ``unsure`` (the verifier cannot tell, or a
    person skipped it) and ``error`` (it could not check) are counted but are not part of the
    defect rate. An ``error`` is asked again by the next ``qa``; an ``unsure`` is not.
    """

    status: QualityStatus
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in QUALITY_STATUSES:
            raise ValueError(f"unknown quality verdict {self.status!r}; one of {QUALITY_STATUSES}")

    @property
    def defective(self) -> bool | None:
        """True if defective, False if correct, None if there is no judgement."""
        if self.status in ("correct", "defective"):
            return self.status == "defective"
        return None

    @classmethod
    def correct(cls, reason: str = "") -> QualityVerdict:
        """The example is right."""
        return cls("correct", reason)

    @classmethod
    def wrong(cls, reason: str = "") -> QualityVerdict:
        """The example is defective."""
        return cls("defective", reason)

    @classmethod
    def unsure(cls, reason: str = "") -> QualityVerdict:
        """No judgement: not counted in the defect rate, not asked again."""
        return cls("unsure", reason)

    @classmethod
    def error(cls, reason: str) -> QualityVerdict:
        """The check could not be made: not counted, asked again next time."""
        return cls("error", reason)


class QualityVerifier(Protocol):
    """A verifier stronger than the run's own, asked about one stored example at a time.

    ``name`` identifies it across calls (``model:gpt-4o``, ``python:mod:fn``, ``human``):
    an item it settled is never put to it again. ``check`` may be called concurrently when
    :func:`audit_quality` is given ``concurrency > 1``; a verifier that must not be (a
    person) serialises itself.
    """

    @property
    def name(self) -> str:
        """A stable name: the same verifier has the same name in every call."""
        ...

    async def check(self, payload: Mapping[str, Any]) -> QualityVerdict:
        """Judge the stored example ``payload``."""
        ...


# -- drawing a sample -------------------------------------------------------------------


def draw_sample(
    population: Iterable[str], n: int, *, seed: int, exclude: Collection[str] = ()
) -> list[str]:
    """``n`` ids drawn at random without replacement from ``population``, skipping
    ``exclude``: the next ``n`` of one fixed seeded order, so the same seed always draws the
    same items in the same order, and a later call continues where an earlier one stopped."""
    order = sorted(set(population))
    random.Random(derive_seed("qa-sample", seed)).shuffle(order)
    return [item for item in order if item not in exclude][: max(0, n)]


# -- checking a sample -------------------------------------------------------------------


@dataclass(frozen=True)
class QualityReport:
    """What one :func:`audit_quality` call did, and the run's quality after it.

    ``requested`` items were asked for and ``asked`` were put to the verifier (fewer when
    fewer stored items were left that it had not settled); ``checks`` are those answered
    (fewer than ``asked`` only when the call was cut short).
    """

    run_id: str
    verifier: str
    sample_seed: int
    asked: int
    checks: tuple[QaCheckRecord, ...]
    quality: RunQuality
    already_checked: int = 0
    requested: int = 0

    @property
    def cost(self) -> float:
        """USD spent by this call's checks (model calls not found in the cache)."""
        return sum(float(c.details.get("cost") or 0.0) for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: this call's checks, then the run's quality."""
        now = estimate_defect_rate(c.verdict for c in self.checks)
        return {
            "run_id": self.run_id,
            "verifier": self.verifier,
            "sample_seed": self.sample_seed,
            "requested": self.requested,
            "asked": self.asked,
            "already_checked": self.already_checked,
            "this_call": now.to_dict(),
            "cost": self.cost,
            "checks": [
                {"item_id": c.item_id, "verdict": c.verdict, "reason": c.reason}
                for c in self.checks
            ],
            "quality": self.quality.to_dict(),
        }


async def audit_quality(
    workspace: str | Path,
    run_id: str,
    *,
    sample: int,
    verifier: QualityVerifier,
    seed: int = 0,
    concurrency: int = 1,
    audit: bool = True,
) -> QualityReport:
    """Check ``sample`` more of run ``run_id``'s stored items with ``verifier``.

    Items are drawn without replacement in one seeded order (:func:`draw_sample`); items
    this verifier already settled are skipped, so each call grows the sample and a call cut
    short loses nothing but the checks in flight. Every check is written to the ledger and,
    with ``audit``, to the workspace's audit log. The run is locked while it is checked, so
    a run being driven right now is refused (its stored items are still changing).
    ``concurrency`` checks run at once (a model verifier gains from more; a person does not).
    """
    if sample < 1:
        raise ConfigError(f"--sample must be at least 1, got {sample}")
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
    ws = Workspace(workspace, create=False)
    ledger = Ledger(ws.ledger_path)
    try:
        run = ledger.run(run_id)
        stored = ledger.items(run_id, ["stored"])
        if not stored:
            raise UserInputError(
                f"run {run_id} ({run.status}) has no stored items: there is nothing to sample"
                + ("; resume it first" if run.status != "finished" else "")
            )
        lock = ws.lock_run(run_id)
        try:
            settled = {
                c.item_id for c in ledger.qa_checks(run_id, verifier.name) if c.verdict != "error"
            }
            chosen = draw_sample((i.item_id for i in stored), sample, seed=seed, exclude=settled)
            by_id = {i.item_id: i for i in stored}
            journal = _Journal(ledger, _open_log(ws) if audit else None, run, verifier.name, seed)
            try:
                await _check_all([by_id[i] for i in chosen], verifier, journal, concurrency)
            finally:
                journal.close()
        finally:
            lock.close()
        return QualityReport(
            run_id=run_id,
            verifier=verifier.name,
            sample_seed=seed,
            asked=len(chosen),
            checks=tuple(journal.written),
            quality=run_quality(ledger, run_id),
            already_checked=len(settled),
            requested=sample,
        )
    finally:
        ledger.close()


async def _check_all(
    items: Sequence[ItemRecord], verifier: QualityVerifier, journal: _Journal, concurrency: int
) -> None:
    todo = iter(items)

    async def worker() -> None:
        # Workers share one iterator: each takes the next item, so with one worker the
        # items are asked in the sample's order.
        for item in todo:
            started = time.time()
            verdict = await _ask(verifier, item.payload)
            journal.add(item, verdict, started, time.time())

    tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(items)))]
    try:
        # The first error stops the check as it is (not wrapped in an ExceptionGroup, so
        # the CLI's error handling sees it); the other workers are cancelled.
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _ask(verifier: QualityVerifier, payload: Mapping[str, Any]) -> QualityVerdict:
    try:
        # A copy: a verifier cannot change what the next one sees.
        verdict = await verifier.check(copy.deepcopy(dict(payload)))
    except SynthFactoryError as err:
        if isinstance(err, Fatal):
            raise  # the endpoint is down, a key is refused, stdin closed: stop, keep the rest
        return QualityVerdict.error(f"{type(err).__name__}: {err}")
    except Exception as err:
        return QualityVerdict.error(f"the verifier raised {type(err).__name__}: {err}")
    if not isinstance(verdict, QualityVerdict):
        return QualityVerdict.error(
            f"the verifier returned {type(verdict).__name__}, not a QualityVerdict"
        )
    return verdict


def _open_log(ws: Workspace) -> SqliteAuditLog:
    from synthfactory.runtime.audit import open_workspace_log

    return open_workspace_log(ws)


class _Journal:
    """Writes each check to the audit log, then the ledger (the ledger never claims a check
    whose record could still be lost), in small groups."""

    def __init__(
        self,
        ledger: Ledger,
        log: SqliteAuditLog | None,
        run: RunRecord,
        verifier: str,
        seed: int,
    ) -> None:
        self._ledger = ledger
        self._log = log
        self._run = run
        self._verifier = verifier
        self._seed = seed
        self._worker = f"{socket.gethostname()}:{os.getpid()}"
        self._pending: list[tuple[QaCheckRecord, ProvenanceRecord | None]] = []
        self._last = time.monotonic()
        self.written: list[QaCheckRecord] = []

    def add(
        self, item: ItemRecord, verdict: QualityVerdict, started: float, finished: float
    ) -> None:
        check = QaCheckRecord(
            run_id=self._run.run_id,
            item_id=item.item_id,
            verifier=self._verifier,
            verdict=verdict.status,
            reason=verdict.reason,
            sample_seed=self._seed,
            checked_at=finished,
            details=dict(verdict.details),
        )
        record = self._record(item, check, started) if self._log is not None else None
        self._pending.append((check, record))
        if len(self._pending) >= _FLUSH_ROWS or time.monotonic() - self._last >= _FLUSH_EVERY_S:
            self.flush()

    def _record(self, item: ItemRecord, check: QaCheckRecord, started: float) -> ProvenanceRecord:
        from synthfactory.provenance import ProvenanceRecord, QaEntry, VerdictEntry, digest

        d = check.details
        key = d.get("request_key")
        return ProvenanceRecord(
            item_id=item.item_id,
            run_id=self._run.run_id,
            step="qa",
            attempt=0,
            recipe_name=self._run.recipe_name,
            recipe_version=self._run.recipe_version,
            recipe_digest="sha256:" + self._run.recipe_digest,
            started_at=started,
            finished_at=check.checked_at,
            status=check.verdict,
            model=d.get("model"),
            endpoint_role=d.get("role"),
            request_digest=f"sha256:{key}" if key else None,
            sampling=dict(d.get("sampling") or {}),
            seed=d.get("seed"),
            response_digest=d.get("response_digest"),
            output_digest=digest(item.payload),
            cached=bool(d.get("cached", False)),
            prompt_tokens=int(d.get("prompt_tokens") or 0),
            completion_tokens=int(d.get("completion_tokens") or 0),
            cost=float(d.get("cost") or 0.0),
            verdicts=(VerdictEntry(self._verifier, check.verdict, "qa"),),
            qa=QaEntry(
                self._verifier,
                check.verdict,
                self._seed,
                digest(check.reason) if check.reason else None,
            ),
            worker=self._worker,
        )

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        self._last = time.monotonic()
        if not pending:
            return
        if self._log is not None:
            self._log.append(r for _, r in pending if r is not None)
            self._log.flush()
        for check, _ in pending:
            self._ledger.add_qa_check(check)
        self._ledger.flush()
        self.written.extend(c for c, _ in pending)

    def close(self) -> None:
        try:
            self.flush()
            if self._log is not None:
                self._log.checkpoint()
        finally:
            if self._log is not None:
                self._log.close()


__all__ = [
    "QUALITY_STATUSES",
    "QualityEstimate",
    "QualityReport",
    "QualityStatus",
    "QualityVerdict",
    "QualityVerifier",
    "RunQuality",
    "audit_quality",
    "draw_sample",
    "estimate_defect_rate",
    "percent",
    "pooled_verdicts",
    "releasable",
    "run_quality",
]
