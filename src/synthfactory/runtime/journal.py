"""Where an item's steps are written down: each attempt (ledger and audit log, in one
call), each verdict, each failure, and the counts that follow from them.

One place for the records of a step, so what a kill can lose is easy to reason about: the
ledger buffers attempts until the committer makes them durable, after the audit records
they describe (see :mod:`synthfactory.runtime.committer`). A model answer itself is
durable before it is journaled (the response cache keeps it on receipt).
"""

from __future__ import annotations

import time
from typing import Any

from synthfactory.ledger import AttemptRecord, ItemRecord, Ledger
from synthfactory.models.client import ChatRequest, ChatResponse
from synthfactory.recipe.steps import ModelStep
from synthfactory.runtime.audit import AuditRecorder
from synthfactory.runtime.tally import Tally
from synthfactory.verdict import Verdict
from synthfactory.verify.tiers import verdict_entry


class Journal:
    """Records the attempts and outcomes of a run's items."""

    def __init__(self, ledger: Ledger, audit: AuditRecorder | None, tally: Tally) -> None:
        self._ledger = ledger
        self._audit = audit
        self._tally = tally

    def attempt(
        self,
        item: ItemRecord,
        step: Any,
        attempt: int,
        status: str,
        *,
        started: float,
        error: str | None = None,
        verdict: Verdict | None = None,
        worker: str = "",
    ) -> None:
        """One attempt of a step that is not a model call (see :meth:`model_attempt`)."""
        if self._audit is not None:
            self._audit.cpu_attempt(
                item,
                step.name,
                attempt,
                status=status,
                verdict=verdict,
                error=error,
                started=started,
                finished=time.time(),
                worker=worker,
            )
        self._ledger.add_attempt(
            _attempt_record(
                item, step.name, attempt, status, started=started, finished=time.time(), error=error
            )
        )

    def judged(
        self,
        item: ItemRecord,
        step: Any,
        attempt: int,
        verdict: Verdict,
        *,
        started: float,
        worker: str = "",
    ) -> None:
        """One attempt that ended in ``verdict``: its status and reason are the attempt's."""
        self.attempt(
            item,
            step,
            attempt,
            verdict.status,
            started=started,
            error=verdict.reason or None,
            verdict=verdict,
            worker=worker,
        )

    def model_attempt(
        self,
        item: ItemRecord,
        step: ModelStep,
        attempt: int,
        request: ChatRequest,
        response: ChatResponse | None,
        *,
        status: str,
        error: str | None,
        started: float,
        cached: bool = False,
        cost: float = 0.0,
        replayed: bool = False,
    ) -> None:
        """One model call attempt (a cache hit included: it is what the item used), with
        the request, the model as served, and the tokens and cost it was paid.

        ``replayed``: this attempt was journaled before a kill and is done again on resume;
        the ledger keeps its first record (the one with the cost), the audit log gets both."""
        finished = time.time()
        counted = response is not None and not cached
        if not replayed:
            self._ledger.add_attempt(
                _attempt_record(
                    item,
                    step.name,
                    attempt,
                    status,
                    started=started,
                    finished=finished,
                    error=error,
                    role=step.role,
                    model=response.model if response is not None else None,
                    request_key=request.key(),
                    cached=cached,
                    prompt_tokens=response.prompt_tokens if counted and response else 0,
                    completion_tokens=response.completion_tokens if counted and response else 0,
                    cost=cost,
                )
            )
        if self._audit is not None:
            self._audit.model_attempt(
                item,
                step,
                attempt,
                request=request,
                response=response,
                cached=cached,
                cost=cost,
                status=status,
                error=error,
                started=started,
                finished=finished,
            )

    def recorded(self, item: ItemRecord, step: ModelStep, attempt: int) -> bool:
        """Whether this attempt was journaled (and made durable) before."""
        return self._ledger.has_attempt(item.item_id, step.name, attempt)

    def verdict(
        self,
        item: ItemRecord,
        name: str,
        verdict: Verdict,
        *,
        cpu_s: float = 0.0,
        cost: float = 0.0,
    ) -> bool:
        """Add ``verdict`` to the item; True if it passed, else the item is rejected."""
        item.verdicts.append(verdict_entry(name, verdict, cpu_s=cpu_s, cost=cost))
        if verdict.passed:
            return True
        item.state = "rejected"
        item.error = f"{name}: {verdict.status}: {verdict.reason}"
        self._tally.rejected += 1
        return False

    def fail(self, item: ItemRecord, error: str) -> bool:
        """The item failed (an error, not a verdict); always False."""
        item.state = "failed"
        item.error = error
        self._tally.failed += 1
        return False


def _attempt_record(
    item: ItemRecord,
    step: str,
    attempt: int,
    status: str,
    *,
    started: float,
    finished: float,
    error: str | None,
    **model_call: Any,
) -> AttemptRecord:
    return AttemptRecord(
        item_id=item.item_id,
        step=step,
        attempt=attempt,
        status=status,
        started_at=started,
        finished_at=finished,
        error=error,
        **model_call,
    )


__all__ = ["Journal"]
