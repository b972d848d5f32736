"""Mixes a recipe's canaries into its verifier tiers while the run works, and keeps score.

After an item's verifier step, :meth:`CanaryRunner.check` draws (from the item's own seed,
so a replayed run mixes in the same canaries) whether a declared canary joins that step's
stream; when an item is accepted, :meth:`CanaryRunner.check_mutant` draws whether a mutant
of it runs through every measured tier. Either runs exactly as an item would (the same
executor, model calls and cache), and its verdict goes to the ledger and the audit log.
See :mod:`synthfactory.verify.canaries` for what is measured.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import random
import time
from dataclasses import dataclass

from synthfactory.errors import VerifierBelowFloorError
from synthfactory.ledger import ItemRecord, Ledger
from synthfactory.recipe.steps import Payload
from synthfactory.runtime.audit import AuditRecorder
from synthfactory.runtime.executor import Executor
from synthfactory.runtime.model_calls import ModelCalls
from synthfactory.seeds import derive_seed
from synthfactory.verify.canaries import Canaries, CanaryCheck, TierQuality, tier_quality
from synthfactory.verify.steps import JudgeStep, SandboxStep, VerifyStep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanaryPick:
    """A canary chosen for one step: its id, payload, seed and what it is."""

    canary_id: str
    payload: Payload
    seed: int
    bad: bool
    source: str
    label: str


class CanaryRunner:
    """Chooses canaries and keeps their verdicts for one run."""

    def __init__(
        self,
        canaries: Canaries,
        ledger: Ledger,
        run_id: str,
        *,
        calls: ModelCalls | None = None,
        executor: Executor | None = None,
        audit: AuditRecorder | None = None,
        infra_retries: int = 3,
    ) -> None:
        self.canaries = canaries
        self.ledger = ledger
        self.run_id = run_id
        self._calls = calls
        self._executor = executor
        self._audit = audit
        self._infra_retries = infra_retries
        self._checks: list[CanaryCheck] = ledger.canary_checks(run_id)
        self._flagged: set[str] = set()  # tiers already warned about

    def pick(self, item_id: str, item_seed: int, step: str, tier: str) -> CanaryPick | None:
        """A declared canary to run through ``step`` alongside item ``item_id``, or None."""
        if not self.canaries.measures(tier):
            return None
        if derive_seed(item_seed, "canary", step) / 2**63 >= self.canaries.rate:
            return None
        rng = random.Random(derive_seed(item_seed, "canary-pick", step))
        canary_id = f"{item_id}-canary-{step}"
        seed = derive_seed(item_seed, "canary-seed", step)
        good = [c for c in self.canaries.items if not c.bad and c.targets(tier)]
        bad = [c for c in self.canaries.items if c.bad and c.targets(tier)]
        if good and (not bad or rng.random() < self.canaries.good_share):
            chosen = rng.choice(good)
            return CanaryPick(
                canary_id, dict(chosen.payload), seed, False, "declared", chosen.label
            )
        if bad:
            chosen = rng.choice(bad)
            return CanaryPick(canary_id, dict(chosen.payload), seed, True, "declared", chosen.label)
        return None

    def mutant(self, item: ItemRecord) -> CanaryPick | None:
        """Maybe a known-bad mutant of an accepted item (drawn from the item's own seed, so
        a replayed run makes the same ones). The donor of an "another task's answer"
        mutant is one of the declared canaries."""
        if not self.canaries.mutators:
            return None
        if derive_seed(item.seed, "mutant") / 2**63 >= self.canaries.rate:
            return None
        rng = random.Random(derive_seed(item.seed, "mutant-pick"))
        donors = [dict(c.payload) for c in self.canaries.items] or [item.payload]
        mutators = list(self.canaries.mutators)
        rng.shuffle(mutators)
        for mutate in mutators:
            made = mutate(copy.deepcopy(item.payload), rng.choice(donors), rng)
            if made is not None:
                name = getattr(mutate, "__qualname__", None) or repr(mutate)
                seed = derive_seed(item.seed, "mutant-seed")
                return CanaryPick(f"{item.item_id}-mutant", made, seed, True, "mutant", name)
        return None

    async def check_mutant(
        self, item: ItemRecord, steps: tuple[VerifyStep | SandboxStep | JudgeStep, ...]
    ) -> TierQuality | None:
        """Maybe run a mutant of the accepted ``item`` through every measured tier's step;
        the quality of the first tier now below its floor, if any."""
        made = self.mutant(item)
        if made is None:
            return None
        low = None
        for step in steps:
            if self.canaries.measures(step.tier):
                pick = dataclasses.replace(made, canary_id=f"{made.canary_id}-{step.name}")
                low = await self._run(item, step, pick) or low
        return low

    async def check(
        self, item: ItemRecord, step: VerifyStep | SandboxStep | JudgeStep
    ) -> TierQuality | None:
        """Maybe run a canary through ``step`` beside ``item``, exactly as an item goes
        (the same executor, the same model calls and cache); record its verdict in the
        ledger and the audit log. Returns the tier's quality if it is now below its floor."""
        pick = self.pick(item.item_id, item.seed, step.name, step.tier)
        if pick is None:
            return None
        return await self._run(item, step, pick)

    async def _run(
        self, item: ItemRecord, step: VerifyStep | SandboxStep | JudgeStep, pick: CanaryPick
    ) -> TierQuality | None:
        probe = ItemRecord(
            item_id=pick.canary_id,
            run_id=self.run_id,
            index=-1,
            seed=pick.seed,
            state="canary",
            next_step=0,
            payload=pick.payload,
        )
        started = time.time()
        status, reason = await self._verdict(probe, step)
        self.record(pick, item.item_id, step.name, step.tier, status=status, reason=reason)
        if self._audit is not None:
            self._audit.canary(
                probe,
                step.name,
                parent=item.item_id,
                tier=step.tier,
                bad=pick.bad,
                source=pick.source,
                label=pick.label,
                status=status,
                reason=reason,
                started=started,
                finished=time.time(),
            )
        return self.below_floor(step.tier)

    async def _verdict(
        self, probe: ItemRecord, step: VerifyStep | SandboxStep | JudgeStep
    ) -> tuple[str, str]:
        if isinstance(step, JudgeStep):
            assert self._calls is not None
            called = await self._calls.run(probe, step.request_step())
            if not called.ok:
                return "error", called.error or ""
            verdict = step.verdict(called.value)
            return verdict.status, verdict.reason
        assert self._executor is not None
        for _ in range(self._infra_retries + 1):
            outcome = await self._executor.run_step(step.name, probe.payload)
            if outcome.infra_error is not None:
                continue
            if outcome.error is not None:
                return "error", outcome.error
            if outcome.verdict is not None and outcome.verdict.status != "infra_error":
                return outcome.verdict.status, outcome.verdict.reason
        return "infra_error", "infrastructure error after retries"

    def record(
        self, pick: CanaryPick, item_id: str, step: str, tier: str, *, status: str, reason: str
    ) -> CanaryCheck:
        """Keep one canary verdict (in the ledger too)."""
        check = CanaryCheck(
            canary_id=pick.canary_id,
            run_id=self.run_id,
            item_id=item_id,
            step=step,
            tier=tier,
            bad=pick.bad,
            source=pick.source,
            label=pick.label,
            status=status,
            reason=reason[:500],
        )
        self._checks = [c for c in self._checks if c.canary_id != check.canary_id]
        self._checks.append(check)
        self.ledger.add_canary_check(check)
        return check

    def quality(self) -> dict[str, TierQuality]:
        """Each measured tier's catch and false-reject rates so far."""
        return tier_quality(self._checks, self.canaries)

    def hold_floor(self, low: TierQuality | None, *, strict: bool) -> None:
        """Act on a tier found below its floor: warn once per tier; with ``strict``
        (``--strict-verifiers``), stop the run naming the tier and its catch rate."""
        if low is None:
            return
        if low.tier not in self._flagged:
            self._flagged.add(low.tier)
            log.warning("%s", low.message())
        if strict:
            raise VerifierBelowFloorError(
                f"{low.message()}; stopped by --strict-verifiers (fix or replace the tier, "
                "or lower its floor in the recipe's canaries)"
            )

    def below_floor(self, tier: str) -> TierQuality | None:
        """The tier's quality if it is now below its floor."""
        found = self.quality().get(tier)
        return found if found is not None and found.below_floor else None


__all__ = ["CanaryPick", "CanaryRunner"]
