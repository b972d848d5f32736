"""The local executor: an asyncio generation pool and a process verification pool.

Generation: one ``aiohttp`` session (one connection pool) for the run, one client per
endpoint with its own adaptive concurrency limit. Verification: a process pool started
with ``forkserver`` (Lance is not fork-safe, so workers never fork from a process that
imported it). Steps are sent to the pool in micro-batches: whatever arrived during one
event-loop turn, up to ``batch_size``, with at most two batches per worker in flight, so a
slow verifier makes callers wait (backpressure) instead of growing a queue without bound.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

import aiohttp

from synthfactory.errors import ConfigError, PoolBrokenError
from synthfactory.models.client import ChatRequest, ChatResponse
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.models.openai_http import OpenAIChatClient
from synthfactory.recipe.loader import RecipeSource, load_recipe
from synthfactory.recipe.model import Recipe, SandboxStep
from synthfactory.recipe.templates import render
from synthfactory.runtime.executor import StepOutcome, execute_batch, execute_step
from synthfactory.runtime.pool_worker import die_with_driver, preload_modules, warm_up

if TYPE_CHECKING:
    from synthfactory.sandbox import Sandbox

_Pending = tuple[str, dict[str, Any], "asyncio.Future[StepOutcome]"]


_MAX_RESTARTS_WITHOUT_PROGRESS = 3


class LocalExecutor:
    """Both pools on this machine.

    ``verify_workers=0`` runs Python and verifier steps inline on the event loop: only for
    trivial checks and tests, since a slow step then stalls every model call.
    """

    def __init__(
        self,
        *,
        verify_workers: int | None = None,
        batch_size: int = 64,
        sandbox_workers: int | None = None,
        allow_weak_isolation: bool = False,
    ) -> None:
        self.verify_workers = (os.cpu_count() or 1) if verify_workers is None else verify_workers
        self.batch_size = batch_size
        self.sandbox_workers = sandbox_workers
        self.allow_weak_isolation = allow_weak_isolation
        self._sandbox: Sandbox | None = None
        self._sandbox_jobs = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str, OpenAIChatClient] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._pool_starting: asyncio.Task[ProcessPoolExecutor] | None = None
        self._source: RecipeSource | None = None
        self._recipe: Recipe | None = None
        self._pending: list[_Pending] = []
        self._batches_in_flight = 0
        self._dispatch_scheduled = False
        self._restarts_without_progress = 0
        self._broken: PoolBrokenError | None = None

    async def start(self, recipe: RecipeSource, endpoints: Mapping[str, EndpointConfig]) -> None:
        """Open the HTTP pool and start the verification workers."""
        self._source = recipe
        # Loaded once here for routing (sandbox or pool) and inline runs; the pool's workers
        # load their own copy from the same source.
        self._recipe = load_recipe(recipe)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60),
        )
        self._clients = {
            role: OpenAIChatClient(cfg, self._session) for role, cfg in endpoints.items()
        }
        if self._recipe.needs_sandbox:
            from synthfactory.sandbox import SandboxPool

            # Started in a thread: probing the host's isolation layers takes a moment.
            self._sandbox = await asyncio.to_thread(
                SandboxPool,
                self.sandbox_workers,
                allow_weak_isolation=self.allow_weak_isolation,
            )
        if self.verify_workers > 0:
            # In the background: the first pool starts the forkserver, which imports the
            # preloaded modules before it answers (a second or so), while the first model
            # calls go out. The first step to need the pool waits for it.
            self._pool_starting = asyncio.create_task(asyncio.to_thread(self._started_pool))

    async def _pool_started(self) -> None:
        starting = self._pool_starting
        assert starting is not None
        # Shielded: cancelling a waiter (an item, when a fatal error stops the run) would
        # otherwise cancel the shared start, and close() would then raise CancelledError
        # (the run reported "interrupted") and leave the new pool's workers running.
        pool = await asyncio.shield(starting)
        if self._pool_starting is starting:  # the first waiter to wake up takes it
            self._pool, self._pool_starting = pool, None

    def _started_pool(self) -> ProcessPoolExecutor:
        pool = self._new_pool()
        # Start the workers now, before the first model answers need them.
        for _ in range(self.verify_workers):
            pool.submit(warm_up)
        return pool

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        assert self._recipe is not None
        # Workers fork from the forkserver with these already imported, instead of each
        # importing them anew (about a second of CPU per worker). Takes effect when the
        # forkserver starts, i.e. for the process's first pool.
        context.set_forkserver_preload(preload_modules(self._recipe))
        return ProcessPoolExecutor(
            max_workers=self.verify_workers,
            mp_context=context,
            initializer=die_with_driver,
            initargs=(os.getpid(),),
        )

    async def call_model(self, role: str, request: ChatRequest) -> ChatResponse:
        """Send one request through the role's client."""
        try:
            client = self._clients[role]
        except KeyError:
            raise ConfigError(f"no endpoint for role {role!r}") from None
        return await client.complete(request)

    async def run_step(self, step: str, payload: dict[str, Any]) -> StepOutcome:
        """Queue one step for the verification pool (or the sandbox) and wait for it."""
        assert self._recipe is not None, "start() first"
        definition = self._recipe.step(step)
        if isinstance(definition, SandboxStep):
            return await self._run_sandboxed(definition, payload)
        if self._broken is not None:
            raise self._broken
        if self._pool_starting is not None:
            await self._pool_started()
        if self._pool is None:
            return execute_step(self._recipe, step, payload)
        fut: asyncio.Future[StepOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append((step, payload, fut))
        self._schedule()
        return await fut

    async def _run_sandboxed(self, step: SandboxStep, payload: dict[str, Any]) -> StepOutcome:
        from synthfactory.sandbox import SandboxJob

        if self._sandbox is None:
            return StepOutcome(infra_error="the sandbox pool is not running")
        try:
            code = render(step.code, payload)
        except ValueError as err:
            return StepOutcome(error=f"sandbox step {step.name!r}: {err}")
        job = SandboxJob(f"{step.name}-{next(self._sandbox_jobs)}", code, step.timeout_s)
        # SandboxPool.run blocks until the job is done; the pool's own processes do the work.
        (result,) = await asyncio.to_thread(self._sandbox.run, [job])
        verdict = dataclasses.replace(result.to_verdict(), tier=step.tier)
        if verdict.status == "infra_error":
            return StepOutcome(infra_error=verdict.reason)
        return StepOutcome(verdict=verdict, cpu_s=result.cpu_ms / 1000, worker="sandbox")

    def _schedule(self) -> None:
        if not self._dispatch_scheduled:
            self._dispatch_scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._dispatch_scheduled = False
        max_in_flight = 2 * self.verify_workers
        while self._pending and self._batches_in_flight < max_in_flight and self._pool is not None:
            batch, self._pending = (
                self._pending[: self.batch_size],
                self._pending[self.batch_size :],
            )
            batch = [p for p in batch if not p[2].done()]
            if not batch:
                continue
            assert self._source is not None
            try:
                cf = self._pool.submit(execute_batch, self._source, [(s, p) for s, p, _ in batch])
            except (BrokenProcessPool, RuntimeError) as err:
                self._fail_batch(batch, f"verification pool unavailable: {err}")
                self._restart_pool()
                continue
            self._batches_in_flight += 1
            cf.add_done_callback(self._done_callback(batch, self._pool))

    def _done_callback(
        self, batch: list[_Pending], pool: ProcessPoolExecutor
    ) -> Callable[[Future[list[StepOutcome]]], None]:
        loop = asyncio.get_running_loop()

        def done(cf: Future[list[StepOutcome]]) -> None:
            # Runs in the pool's thread: hand the result back to the event loop.
            loop.call_soon_threadsafe(self._batch_done, cf, batch, pool)

        return done

    def _batch_done(
        self, done: Future[list[StepOutcome]], batch: list[_Pending], pool: ProcessPoolExecutor
    ) -> None:
        self._batches_in_flight -= 1
        try:
            outcomes = done.result()
        except BrokenProcessPool as err:
            self._fail_batch(batch, f"a verification worker died: {err}")
            if pool is self._pool:  # every batch of a broken pool lands here; restart once
                self._restart_pool()
        except Exception as err:
            self._fail_batch(batch, f"verification batch failed: {type(err).__name__}: {err}")
        else:
            self._restarts_without_progress = 0
            for (_, _, fut), outcome in zip(batch, outcomes, strict=True):
                if not fut.done():
                    fut.set_result(outcome)
        if self._pending:
            self._schedule()

    def _fail_batch(self, batch: list[_Pending], message: str) -> None:
        for _, _, fut in batch:
            if fut.done():
                continue
            if self._broken is not None:
                fut.set_exception(self._broken)
            else:
                fut.set_result(StepOutcome(infra_error=message))

    def _restart_pool(self) -> None:
        self._restarts_without_progress += 1
        if self._restarts_without_progress > _MAX_RESTARTS_WITHOUT_PROGRESS:
            self._broken = PoolBrokenError(
                f"the verification pool died {self._restarts_without_progress} times without "
                "finishing a batch, so the run stops. If you call run_recipe() from a script, "
                "put the call under `if __name__ == '__main__':` (worker processes import "
                "the main module); otherwise a step may be crashing its worker."
            )
            for _, _, fut in self._pending:
                if not fut.done():
                    fut.set_exception(self._broken)
            self._pending.clear()
            return
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    def describe(self) -> dict[str, Any]:
        """What the run records of where its steps ran (``resume`` uses the same)."""
        return {"kind": "local"}

    async def close(self) -> None:
        """Close the HTTP pool and stop the workers."""
        for _, _, fut in self._pending:
            fut.cancel()
        self._pending.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await asyncio.to_thread(sandbox.close)
        if self._pool_starting is not None:
            await self._pool_started()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: pool.shutdown(wait=True, cancel_futures=True)
            )
