"""The run driver: admits items, runs the loop, keeps the run durable, tells how it ended.

Each admitted item walks the recipe's steps in a task of its own
(:class:`~synthfactory.runtime.item_steps.ItemSteps`); the journal writes down what each step
did, and the committer makes it durable and writes passed items to the dataset.

Everything durable happens here, in one process: the ledger, the response cache and the
dataset commits. Executors only run work that may be lost and redone. No batch barriers:
each item moves to its next step as soon as its current one is done; backpressure comes
from the bounded number of items in flight and the executor's bounded pools.

Exactly once into the dataset: a commit appends rows to the Lance table atomically, then
marks them stored in the ledger. A crash between the two is repaired on resume by asking
the table which of the "passed" items it already holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import random
import time
from collections.abc import Mapping

from synthfactory.cache import ResponseCache
from synthfactory.errors import (
    Fatal,
    RecipeError,
    SynthFactoryError,
)
from synthfactory.ledger import ItemRecord, Ledger, RunRecord
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.recipe.loader import RecipeSource
from synthfactory.recipe.model import (
    Recipe,
    derive_seed,
)
from synthfactory.runtime.audit import AuditRecorder
from synthfactory.runtime.canary_runner import CanaryRunner
from synthfactory.runtime.committer import Committer
from synthfactory.runtime.config import RunConfig
from synthfactory.runtime.dedup_steps import DedupSteps
from synthfactory.runtime.disk_full import disk_full_error
from synthfactory.runtime.executor import Executor
from synthfactory.runtime.item_steps import ItemSteps
from synthfactory.runtime.journal import Journal
from synthfactory.runtime.model_calls import ModelCalls
from synthfactory.runtime.progress import Progress, ProgressObserver, RunSummary
from synthfactory.runtime.steering import Steering
from synthfactory.runtime.summary import run_summary
from synthfactory.runtime.tally import Tally
from synthfactory.store import DatasetStore
from synthfactory.workspace import Workspace

_FLUSH_INTERVAL_S = 0.025
_PROGRESS_INTERVAL_S = 0.25


class RunDriver:
    """Drives one run to its target, or to a clear stop. Use :func:`run_recipe` or
    :func:`resume_run` rather than building one by hand."""

    def __init__(
        self,
        *,
        workspace: Workspace,
        ledger: Ledger,
        cache: ResponseCache,
        store: DatasetStore,
        run: RunRecord,
        recipe: Recipe,
        source: RecipeSource,
        config: RunConfig,
        endpoints: Mapping[str, EndpointConfig],
        executor: Executor,
        observer: ProgressObserver | None = None,
        audit: AuditRecorder | None = None,
    ) -> None:
        self.workspace = workspace
        self.ledger = ledger
        self.cache = cache
        self.store = store
        self.run = run
        self.recipe = recipe
        self.source = source
        self.config = config
        self.endpoints = dict(endpoints)
        self.executor = executor
        self.observer = observer
        self.audit = audit
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._fatal: BaseException | None = None
        self._started = time.monotonic()
        self._tally = Tally()
        self._committer = Committer(
            ledger=ledger,
            cache=cache,
            store=store,
            audit=audit,
            run=run,
            recipe=recipe,
            config=config,
            tally=self._tally,
        )
        self._journal = Journal(ledger, audit, self._tally)
        self._calls = ModelCalls(
            endpoints=self.endpoints,
            cache=cache,
            executor=executor,
            journal=self._journal,
            tally=self._tally,
            replay=config.replay,
            run_id=run.run_id,
        )
        self._next_index = 0
        self._steering = (
            Steering(recipe.coverage, recipe.targets) if recipe.coverage is not None else None
        )
        self._dedup = DedupSteps(
            recipe=recipe,
            run_id=run.run_id,
            workspace=workspace,
            ledger=ledger,
            store=store,
            endpoints=self.endpoints,
            steering=self._steering,
        )
        self._canaries = (
            CanaryRunner(
                recipe.canaries,
                ledger,
                run.run_id,
                calls=self._calls,
                executor=executor,
                audit=audit,
                infra_retries=config.max_infra_retries,
            )
            if recipe.canaries
            else None
        )
        self._steps = ItemSteps(
            recipe=recipe,
            config=config,
            ledger=ledger,
            audit=audit,
            executor=executor,
            journal=self._journal,
            calls=self._calls,
            dedup=self._dedup,
            steering=self._steering,
            canaries=self._canaries,
            committer=self._committer,
            tally=self._tally,
            wake=self._wake,
        )

    # -- the run ---------------------------------------------------------------------

    async def drive(self) -> RunSummary:
        """Run until the target is stored, the item budget is spent, or a fatal error."""
        lock = self.workspace.lock_run(self.run.run_id)
        self._started = time.monotonic()
        status, message = "running", ""
        self.ledger.set_run_status(self.run.run_id, status)
        try:
            await self.executor.start(self.source, self.endpoints)
            # What is alive now (imports, the recipe, the pools) is moved out of the
            # collector's reach for the run: each full collection would walk it all again,
            # for garbage that is nearly all made and freed by the run itself.
            gc.freeze()
            try:
                await self._run_items()
            finally:
                gc.unfreeze()
                await self.executor.close()
            status, message = self._outcome()
        except (asyncio.CancelledError, KeyboardInterrupt):
            status, message = "interrupted", "interrupted; resume it to carry on"
            raise
        except SynthFactoryError as err:
            status, message = "stopped", str(err)
            if not isinstance(err, Fatal):
                raise
        except Exception as err:
            full = disk_full_error(err, f"the workspace {self.workspace.root}")
            if full is None:
                status, message = "crashed", f"{type(err).__name__}: {err}"
                raise
            status, message = "stopped", str(full)
        finally:
            self._dedup.close()
            full = self._committer.finish()
            if full is not None and status not in ("stopped", "crashed", "interrupted"):
                status, message = "stopped", str(full)
            try:
                self.ledger.set_run_status(
                    self.run.run_id, status, message, add_active_s=time.monotonic() - self._started
                )
            except Exception as err:  # a full disk: the summary below still tells the status
                if disk_full_error(err, "the ledger") is None:
                    raise
            lock.close()
        summary = run_summary(self.ledger, self.workspace, self.run.run_id)
        return dataclasses.replace(summary, status=status, message=message)

    def _outcome(self) -> tuple[str, str]:
        """The status and message of a run whose loop ended by itself."""
        if self._dedup.dry is not None:
            return "exhausted", (
                f"{self._dedup.dry}; stored {self._tally.stored} of {self.config.target}. "
                "Widen the samplers or the prompt, or raise the temperature"
            )
        if self._tally.stored >= self.config.target:
            return "finished", ""
        if self._steering is not None and self._steering.exhausted:
            return "exhausted", "; ".join(self._steering.exhausted.values())
        return "exhausted", (
            f"item budget spent ({self.config.item_budget} items) with "
            f"{self._tally.stored} of {self.config.target} usable examples; "
            "raise --max-items, or look at `synthfactory status RUN --failed`"
        )

    async def _run_items(self) -> None:
        self._tally.restore(self.ledger, self.run.run_id)
        await self._committer.reconcile()
        self._next_index = self.ledger.next_index(self.run.run_id)
        active = self.ledger.items(self.run.run_id, ["active"])
        await self._dedup.open(active)
        if self._steering is not None:
            made = self.ledger.items(self.run.run_id, ["passed", "stored"])
            self._steering.restore([i.payload for i in made], [i.payload for i in active])
        for item in active:
            self._spawn(item)
        helpers = [asyncio.create_task(self._flush_loop())]
        if self.observer is not None:
            helpers.append(asyncio.create_task(self._progress_loop()))
        try:
            admitted_this_turn = 0
            while True:
                if self._fatal is not None:
                    raise self._fatal
                usable = self._tally.passed + self._tally.stored
                can_admit = (
                    usable + len(self._tasks) < self.config.target
                    and self._next_index < self.config.item_budget
                    and len(self._tasks) < self.config.max_in_flight
                    and self._dedup.dry is None
                )
                if can_admit and self._admit():
                    admitted_this_turn += 1
                    if admitted_this_turn >= 64:
                        # Let admitted items start their requests before admitting more.
                        admitted_this_turn = 0
                        await asyncio.sleep(0)
                    continue
                admitted_this_turn = 0
                if not self._tasks:
                    break
                self._wake.clear()
                await self._wake.wait()
            await self._committer.commit(force=True)
            if self._fatal is not None:  # a commit that failed while this one waited for it
                raise self._fatal
        finally:
            for task in [*self._tasks, *helpers]:
                task.cancel()
            await asyncio.gather(*self._tasks, *helpers, return_exceptions=True)
            if self.observer is not None:
                self.observer(self.progress())

    def _admit(self) -> bool:
        index = self._next_index
        seed = derive_seed(self.config.seed, index)
        category = None
        if self._steering is not None:
            category = self._steering.choose(random.Random(derive_seed(seed, "coverage")))
            if category is None:
                return False  # every open category has enough in flight; wait for one
        self._next_index += 1
        try:
            payload = self.recipe.initial_payload(index, seed)
        except Exception as err:
            raise RecipeError(f"recipe {self.recipe.name!r}: a sampler raised {err!r}") from None
        if self._steering is not None:
            payload[self._steering.coverage.field] = category
            self._steering.admitted(payload)
        item = ItemRecord(
            item_id=f"{self.run.run_id}-{index:06d}",
            run_id=self.run.run_id,
            index=index,
            seed=seed,
            state="active",
            next_step=0,
            payload=payload,
        )
        self.ledger.add_item(item)
        self._spawn(item)
        return True

    def _spawn(self, item: ItemRecord) -> None:
        task = asyncio.create_task(self._steps.process(item))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._fatal is None:
            self._fatal = task.exception()
            # Stop every other item now: a fatal error must not let queued calls go out.
            for other in self._tasks:
                other.cancel()
        self._wake.set()

    # -- durability --------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        try:
            while True:
                await asyncio.sleep(_FLUSH_INTERVAL_S)
                await self._committer.make_durable()
                if self._committer.due():
                    await self._committer.commit()
        except Exception as err:  # the run stops on it: never a helper dying in silence
            self._fatal = err
            self._wake.set()

    # -- reporting ---------------------------------------------------------------------

    def progress(self) -> Progress:
        """A snapshot for a live display."""
        elapsed = time.monotonic() - self._started
        t = self._tally
        hourly = sum(e.price_hour for e in self.endpoints.values())
        return Progress(
            run_id=self.run.run_id,
            target=self.config.target,
            stored=t.stored,
            passed=t.passed,
            rejected=t.rejected,
            failed=t.failed,
            in_flight=len(self._tasks),
            model_calls=t.model_calls,
            cache_hits=t.cache_hits,
            prompt_tokens=t.prompt_tokens,
            completion_tokens=t.completion_tokens,
            cost=t.token_cost + hourly * (self.run.active_s + elapsed) / 3600,
            elapsed_s=elapsed,
        )

    async def _progress_loop(self) -> None:
        assert self.observer is not None
        while True:
            self.observer(self.progress())
            await asyncio.sleep(_PROGRESS_INTERVAL_S)


__all__ = ["RunDriver"]
