"""One item's way through a recipe: each step in order, then the decision.

:class:`ItemSteps` runs the steps of one item at a time (many items at once, each in its own
task): model steps through :class:`~synthfactory.runtime.model_calls.ModelCalls`, dedup
gates, and the verifier tiers under the recipe's policy, with canaries beside them. What it
decides is written down by the :class:`~synthfactory.runtime.journal.Journal`; a passed item
goes to the :class:`~synthfactory.runtime.committer.Committer`. Admission, the loop and
durability stay with the :class:`~synthfactory.runtime.driver.RunDriver`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from synthfactory.ledger import ItemRecord, Ledger
from synthfactory.recipe.model import (
    DedupStep,
    JudgeStep,
    ModelStep,
    PythonStep,
    Recipe,
    SandboxStep,
    VerifyStep,
)
from synthfactory.runtime.audit import AuditRecorder
from synthfactory.runtime.canary_runner import CanaryRunner
from synthfactory.runtime.committer import Committer
from synthfactory.runtime.config import RunConfig
from synthfactory.runtime.dedup_steps import DedupSteps
from synthfactory.runtime.executor import Executor
from synthfactory.runtime.journal import Journal
from synthfactory.runtime.model_calls import ModelCalls
from synthfactory.runtime.steering import Steering
from synthfactory.runtime.tally import Tally
from synthfactory.verdict import Verdict
from synthfactory.verify.tiers import is_escalated, skipped_entry


@dataclass
class ItemSteps:
    """Walks items through ``recipe``'s steps (the parts of a run one item needs)."""

    recipe: Recipe
    config: RunConfig
    ledger: Ledger
    audit: AuditRecorder | None
    executor: Executor
    journal: Journal
    calls: ModelCalls
    dedup: DedupSteps
    steering: Steering | None
    canaries: CanaryRunner | None
    committer: Committer
    tally: Tally
    wake: asyncio.Event  # set when a full batch of passed items waits for its commit

    def __post_init__(self) -> None:
        self.verifier_steps = tuple(
            s for s in self.recipe.steps if isinstance(s, VerifyStep | SandboxStep | JudgeStep)
        )

    async def process(self, item: ItemRecord) -> None:
        """Walk ``item`` through the recipe from its next step to its decision."""
        try:
            await self._walk(item)
        finally:
            if self.steering is not None:
                self.steering.finished(item.payload)

    async def _walk(self, item: ItemRecord) -> None:
        steps = self.recipe.steps
        while item.next_step < len(steps):
            step = steps[item.next_step]
            if isinstance(step, DedupStep):
                ok = self._gate_category(item) and await self._dedup_step(item, step)
            elif isinstance(step, ModelStep):
                ok = await self._model_step(item, step)
            elif isinstance(step, PythonStep):
                ok = await self._cpu_step(item, step.name)
            elif self._skip(item, step):
                ok = True
            else:
                if isinstance(step, JudgeStep):
                    ok = await self._judge_step(item, step)
                else:
                    ok = await self._cpu_step(item, step.name)
                await self._canary(item, step)
            if not ok:
                return self._turned_down(item)
            item.next_step += 1
            self.ledger.save_item(item)
        if not self._gate_category(item, count=True):
            return self._turned_down(item)
        item.state = "passed"
        self.ledger.save_item(item)
        if self.canaries is not None:
            low = await self.canaries.check_mutant(item, self.verifier_steps)
            self.canaries.hold_floor(low, strict=self.config.strict_verifiers)
        if self.audit is not None:
            self.audit.decision(
                item, accepted=True, finished=time.time(), row=self.committer.row(item)
            )
        self.tally.passed += 1
        if self.committer.add(item):
            self.wake.set()

    async def _model_step(self, item: ItemRecord, step: ModelStep) -> bool:
        outcome = await self.calls.run(item, step)
        if not outcome.ok:
            assert outcome.error is not None
            return self.journal.fail(item, outcome.error)
        item.payload[step.output_field] = outcome.value
        return True

    def _turned_down(self, item: ItemRecord) -> None:
        """Record the end of an item that failed or was rejected (its state says which)."""
        self.dedup.forget(item)
        self.ledger.save_item(item)
        if self.audit is not None:
            self.audit.decision(item, accepted=False, finished=time.time())

    def _gate_category(self, item: ItemRecord, *, count: bool = False) -> bool:
        """With coverage: turn away an item whose category is full (or unknown). ``count``
        counts it towards its category: only when it passes."""
        if self.steering is None:
            return True
        reason = (self.steering.accept if count else self.steering.full)(item.payload)
        if reason is None:
            return True
        return self.journal.verdict(item, "coverage", Verdict.reject(reason, tier="coverage"))

    async def _dedup_step(self, item: ItemRecord, step: DedupStep) -> bool:
        started = time.time()
        verdict = await self.dedup.verdict(item, step)
        if verdict is None:
            missing = f"step {step.name!r}: the item has no field {step.field!r}"
            return self.journal.fail(item, missing)
        self.journal.judged(item, step, 0, verdict, started=started)
        return self.journal.verdict(item, step.name, verdict)

    def _skip(self, item: ItemRecord, step: VerifyStep | JudgeStep | SandboxStep) -> bool:
        """Apply the verification policy; record a skip and return True if the tier is off."""
        run, reason = self.recipe.policy.should_run(
            step.tier, item.payload, item.seed, step.name, is_escalated(item.verdicts)
        )
        if run:
            return False
        item.verdicts.append(skipped_entry(step.name, step.tier, reason))
        self.journal.attempt(item, step, 0, "skipped", started=time.time(), error=reason)
        return True

    async def _judge_step(self, item: ItemRecord, step: JudgeStep) -> bool:
        outcome = await self.calls.run(item, step.request_step())
        if not outcome.ok:
            assert outcome.error is not None
            return self.journal.fail(item, outcome.error)
        # A judge costs model time, priced by its endpoint; no CPU of ours worth counting.
        verdict = step.verdict(outcome.value)
        return self.journal.verdict(item, step.name, verdict, cost=outcome.cost)

    async def _canary(self, item: ItemRecord, step: VerifyStep | SandboxStep | JudgeStep) -> None:
        """Maybe run a canary through ``step`` beside ``item``; warn (or, with
        ``strict_verifiers``, stop) when the step's tier falls below its floor."""
        if self.canaries is not None:
            low = await self.canaries.check(item, step)
            self.canaries.hold_floor(low, strict=self.config.strict_verifiers)

    async def _cpu_step(self, item: ItemRecord, name: str) -> bool:
        step = self.recipe.step(name)
        for attempt in range(self.config.max_infra_retries + 1):
            started = time.time()
            item.attempts += 1
            outcome = await self.executor.run_step(name, item.payload)
            if outcome.infra_error is not None:
                self.journal.attempt(
                    item, step, attempt, "infra_error", started=started, error=outcome.infra_error
                )
                continue
            if outcome.error is not None:
                error = outcome.error
                self.journal.attempt(item, step, attempt, "error", started=started, error=error)
                return self.journal.fail(item, f"step {name!r} raised {outcome.error}")
            if outcome.verdict is not None:
                verdict = outcome.verdict
                self.journal.judged(
                    item, step, attempt, verdict, started=started, worker=outcome.worker
                )
                if verdict.status == "infra_error":
                    continue
                return self.journal.verdict(item, name, verdict, cpu_s=outcome.cpu_s)
            item.payload.update(outcome.updates or {})
            self.journal.attempt(item, step, attempt, "ok", started=started, worker=outcome.worker)
            return True
        return self.journal.fail(item, f"step {name!r}: infrastructure error after retries")


__all__ = ["ItemSteps"]
