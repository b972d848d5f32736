"""The Ray executor: generation and verification actors behind the ``Executor`` protocol.

The only module that imports Ray (lazily, in :meth:`RayExecutor.start`; without the
``ray`` extra it raises :class:`~synthfactory.errors.MissingDependencyError`). The run
driver stays where it is, in this process, as the single committer: the ledger, the cache
and the Lance store are the source of truth, and Ray only runs work that can be lost and
redone. So a killed actor, a lost node or a preempted spot instance costs the items in
flight on it, which are sent again:

- **Generation actors** are async actors, each with one ``aiohttp`` session and one
  :class:`~synthfactory.models.openai_http.OpenAIChatClient` per endpoint (the same retry,
  rate-limit and AIMD policy as locally; an endpoint's ``concurrency`` is split between the
  pool's actors so the endpoint never sees more than it allows). When an actor dies, the
  requests it held go out again on another one (up to ``_MAX_CALL_RESENDS`` times, then a
  :class:`~synthfactory.errors.TransientModelError`); the cache is keyed on the request,
  so a resent request can cost a second answer, never a second row.
- **Verification actors** are sync actors (``num_cpus=1`` by default) running
  :func:`~synthfactory.runtime.executor.execute_batch`. A batch lost with its actor comes
  back as ``infra_error`` outcomes, which the driver retries (``max_infra_retries``).
- ``SandboxStep``\\ s run in a :class:`~synthfactory.sandbox.SandboxPool` on the driver's
  node (through an inner :class:`~synthfactory.runtime.local.LocalExecutor`): the sandbox
  needs host features (namespaces, Landlock, cgroups) probed per host, and Ray worker pods
  rarely grant them.

Items travel in batches: calls that arrive within ``batch_window_s`` (or until a batch is
full) go to one actor in one Ray call, because a Ray actor call costs milliseconds. A batch
comes back whole, so a generation actor holds at most its share of the endpoints'
concurrency in calls: answered calls never pile up in an actor waiting for their batch.

Each pool is sized between its ``min_actors`` and ``max_actors`` and scales on its own: one
more actor when every actor is saturated and calls are waiting, one fewer when an actor has
been idle for ``idle_timeout_s``. The verification pool never claims every CPU of the
cluster by default: ``cpu_headroom`` CPUs are left for the driver and the raylet, and
where both pools claim the same resources, verification actors start only once a
generation actor is up, so they cannot starve the model calls that feed them. A watchdog
turns a pool that cannot start (its resources are not in the cluster) or stops making
progress into a :class:`~synthfactory.errors.PoolBrokenError` that names the resources,
instead of a silent hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from synthfactory.errors import (
    ConfigError,
    MissingDependencyError,
    PoolBrokenError,
    SynthFactoryError,
    TransientModelError,
)
from synthfactory.models.client import ChatRequest, ChatResponse
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.recipe.loader import RecipeSource, load_recipe
from synthfactory.recipe.model import PythonStep, Recipe, SandboxStep, VerifyStep
from synthfactory.runtime.executor import StepOutcome, execute_batch

#: How often one model call is sent again after the actor holding it died.
_MAX_CALL_RESENDS = 3
#: Actor deaths in a row, with no batch finished in between, before a pool is declared broken.
_MAX_DEATHS_WITHOUT_PROGRESS = 4
_WATCHDOG_INTERVAL_S = 0.25


class RayPoolConfig(BaseModel):
    """How one pool of actors is sized and where its actors may run.

    ``resources`` are Ray custom resources (e.g. ``{"generation": 1}`` to pin generation
    actors to a worker group that advertises it). ``max_actors=None`` means ``min_actors``
    for the generation pool, and as many as the cluster's CPUs allow (less the executor's
    ``cpu_headroom``) for the verification pool.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_actors: int = Field(default=1, ge=1)
    max_actors: int | None = Field(default=None, ge=1)
    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    resources: dict[str, float] = Field(default_factory=dict)
    batch_size: int = Field(default=64, ge=1)
    batches_per_actor: int = Field(default=2, ge=1, description="batches in flight per actor")

    def demand(self) -> dict[str, float]:
        """What one actor asks the scheduler for, in Ray's resource names."""
        wanted = {"CPU": self.num_cpus, "GPU": self.num_gpus, **self.resources}
        return {k: v for k, v in wanted.items() if v > 0}


def default_generation_pool() -> RayPoolConfig:
    """One async actor, no CPU reserved: it waits on the network, like the local event loop.

    Batches of 32: a batch comes back when its slowest call does, so smaller batches keep
    more calls going out (the actor takes at most its share of the endpoints' concurrency).
    """
    return RayPoolConfig(num_cpus=0, batch_size=32, batches_per_actor=256)


# -- the actors (plain classes; made remote in start(), since Ray is imported lazily) -----


@contextlib.contextmanager
def quiet_lance_fork_warning() -> Iterator[None]:
    """Silence lance's fork warning while Ray starts its processes: Ray spawns them with
    ``Popen(preexec_fn=...)``, which runs fork hooks, but each child execs at once, so none
    runs lance code in a forked copy of this process (the case the warning is about)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="lance is not fork-safe", category=UserWarning)
        yield


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class GenerationActor:
    """Sends batches of chat requests to the endpoints (runs in a Ray worker)."""

    def __init__(self, endpoints: dict[str, EndpointConfig]) -> None:
        self._endpoints = endpoints
        self._clients: dict[str, Any] = {}
        self._session: Any = None

    async def ready(self) -> tuple[str, int]:
        """Where this actor runs: (host:pid, pid)."""
        return _worker_id(), os.getpid()

    async def complete(
        self, batch: list[tuple[str, ChatRequest]]
    ) -> list[ChatResponse | SynthFactoryError]:
        """Answer every request; errors come back as values (they pickle), in order."""
        if self._session is None:
            import aiohttp

            from synthfactory.models.openai_http import OpenAIChatClient

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
            )
            self._clients = {
                role: OpenAIChatClient(cfg, self._session) for role, cfg in self._endpoints.items()
            }
        answers = await asyncio.gather(
            *(self._one(role, request) for role, request in batch), return_exceptions=True
        )
        out: list[ChatResponse | SynthFactoryError] = []
        for answer in answers:
            if isinstance(answer, ChatResponse | SynthFactoryError):
                out.append(answer)
            else:
                out.append(TransientModelError(f"{type(answer).__name__}: {answer}"))
        return out

    async def _one(self, role: str, request: ChatRequest) -> ChatResponse:
        client = self._clients.get(role)
        if client is None:
            raise ConfigError(f"no endpoint for role {role!r}")
        response: ChatResponse = await client.complete(request)
        return response


class VerificationActor:
    """Runs batches of Python and verifier steps (runs in a Ray worker, one CPU)."""

    def __init__(self, source: RecipeSource) -> None:
        self._source = source
        load_recipe(source)  # fail at start, not on the first batch

    def ready(self) -> tuple[str, int]:
        """Where this actor runs: (host:pid, pid)."""
        return _worker_id(), os.getpid()

    def run(self, batch: list[tuple[str, dict[str, Any]]]) -> list[StepOutcome]:
        """Run a batch in this process."""
        return execute_batch(self._source, batch)


# -- the driver's side of one pool ------------------------------------------------------


@dataclass
class _Slot:
    handle: Any
    name: str
    started: float
    ready: bool = False
    worker: str = ""
    pid: int = 0
    in_flight: int = 0  # batches
    calls: int = 0  # calls in those batches
    idle_since: float = field(default_factory=time.monotonic)
    dead: bool = False


@dataclass
class _Call:
    arg: Any
    future: asyncio.Future[Any]
    sends: int = 0


class _ActorPool:
    """One pool's actors, its queue of calls, its batching, its scaling and its watchdog."""

    def __init__(
        self,
        kind: str,
        config: RayPoolConfig,
        *,
        max_actors: int,
        calls_per_actor: int | None = None,
        make_actor: Callable[[str], Any],
        method: str,
        on_lost: Callable[[_Call, str], None],
        batch_window_s: float,
        start_timeout_s: float,
        stall_timeout_s: float,
        idle_timeout_s: float,
        describe_cluster: Callable[[], str],
    ) -> None:
        self.kind = kind
        self.config = config
        self.max_actors = max_actors
        self._calls_cap = calls_per_actor
        self._make_actor = make_actor
        self._method = method
        self._on_lost = on_lost
        self._window = batch_window_s
        self._start_timeout = start_timeout_s
        self._stall_timeout = stall_timeout_s
        self._idle_timeout = idle_timeout_s
        self._describe_cluster = describe_cluster
        self.slots: list[_Slot] = []
        self._pending: list[_Call] = []
        self._sent: dict[int, list[_Call]] = {}  # batches in flight, by id
        self._tasks: set[asyncio.Task[None]] = set()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._serial = 0
        self._last_progress = time.monotonic()
        self._deaths_without_progress = 0
        self.broken: PoolBrokenError | None = None
        self.batches = 0
        self.deaths = 0
        self.started = 0
        self.unplaced = 0
        self._changed = asyncio.Event()  # an actor became ready, or the pool broke

    # -- actors

    def grow(self) -> None:
        """Start one more actor (it takes calls once it answers ``ready``)."""
        self._serial += 1
        name = f"{self.kind}-{self._serial}"
        slot = _Slot(self._make_actor(name), name, time.monotonic())
        self.slots.append(slot)
        self._spawn(self._await_ready(slot))

    async def _await_ready(self, slot: _Slot) -> None:
        from ray.exceptions import RayActorError

        try:
            slot.worker, slot.pid = await slot.handle.ready.remote()
        except RayActorError as err:
            self._lost(slot, f"{self.kind} actor {slot.name} died while starting: {err}")
            return
        slot.ready = True
        self.started += 1
        self._changed.set()
        slot.idle_since = time.monotonic()
        self._dispatch()

    async def wait_started(self) -> None:
        """Wait until one actor is ready; raise the pool's error if it breaks first."""
        while self.started == 0 and self.broken is None:
            self._changed.clear()
            await self._changed.wait()
        if self.broken is not None:
            raise self.broken

    def _lost(self, slot: _Slot, reason: str) -> None:
        if slot.dead:
            return
        slot.dead = True
        self.deaths += 1
        self._deaths_without_progress += 1
        with contextlib.suppress(ValueError):
            self.slots.remove(slot)
        # An actor that is only unreachable (ActorUnavailableError) would hold its resources.
        with contextlib.suppress(Exception):
            _ray().kill(slot.handle, no_restart=True)
        if self._deaths_without_progress > _MAX_DEATHS_WITHOUT_PROGRESS:
            self._break(
                f"the Ray {self.kind} pool lost {self._deaths_without_progress} actors without "
                f"finishing a batch; the last: {reason}"
            )
            return
        # A replacement, so a pool never shrinks below its minimum because of a death.
        if len(self.slots) < self.config.min_actors:
            self.grow()

    def _retire(self, slot: _Slot) -> None:
        ray = _ray()

        slot.dead = True
        self.slots.remove(slot)
        ray.kill(slot.handle, no_restart=True)

    # -- calls

    def submit(self, arg: Any) -> asyncio.Future[Any]:
        """Queue one call; the future gets the actor's answer for it."""
        if self.broken is not None:
            raise self.broken
        call = _Call(arg, asyncio.get_running_loop().create_future())
        self._pending.append(call)
        self._schedule()
        return call.future

    def resend(self, call: _Call) -> None:
        """Queue a call again whose actor died."""
        self._pending.append(call)
        self._schedule()

    def _schedule(self) -> None:
        if len(self._pending) >= self.config.batch_size:
            self._dispatch()
        elif self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self._window, self._dispatch)

    def _dispatch(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        while self._pending:
            ready = [s for s in self.slots if s.ready and not s.dead and self._has_room(s)]
            if not ready:
                return
            slot = min(ready, key=lambda s: (s.calls, s.in_flight))
            size = self.config.batch_size
            if self._calls_cap is not None:
                size = min(size, self._calls_cap - slot.calls)
            batch = [c for c in self._pending[:size] if not c.future.done()]
            self._pending = self._pending[size:]
            if batch:
                slot.in_flight += 1
                slot.calls += len(batch)
                self._spawn(self._send(slot, batch))

    def _has_room(self, slot: _Slot) -> bool:
        # A cap on calls (the generation pool: the actor's share of the endpoints'
        # concurrency) keeps answers from waiting in an actor for the rest of their batch,
        # where an actor's death or an interrupt would lose them after they were paid for.
        if self._calls_cap is not None and slot.calls >= self._calls_cap:
            return False
        return slot.in_flight < self.config.batches_per_actor

    async def _send(self, slot: _Slot, batch: list[_Call]) -> None:
        from ray.exceptions import RayActorError

        for call in batch:
            call.sends += 1
        self._sent[id(batch)] = batch
        try:
            answers = await getattr(slot.handle, self._method).remote([c.arg for c in batch])
        except RayActorError as err:
            slot.in_flight -= 1
            slot.calls -= len(batch)
            self._lost(slot, f"{type(err).__name__}: {str(err).splitlines()[0]}")
            for call in batch:
                if not call.future.done():
                    self._on_lost(call, f"the {self.kind} actor {slot.name} died: {err}")
            self._dispatch()
            return
        except Exception as err:
            # The actor methods return the work's own errors as values, so whatever arrives
            # here is the transport failing (an object lost with its node, a serialisation
            # error): the calls are lost work, like a dead actor's, but the actor lives on.
            slot.in_flight -= 1
            slot.calls -= len(batch)
            for call in batch:
                if not call.future.done():
                    self._on_lost(call, f"a {self.kind} batch failed: {type(err).__name__}: {err}")
            self._dispatch()
            return
        finally:
            self._sent.pop(id(batch), None)
        slot.in_flight -= 1
        slot.calls -= len(batch)
        slot.idle_since = time.monotonic()
        self._last_progress = time.monotonic()
        self._deaths_without_progress = 0
        self.batches += 1
        for call, answer in zip(batch, answers, strict=True):
            if not call.future.done():
                call.future.set_result(answer)
        self._dispatch()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- scaling and the watchdog

    def tick(self, now: float) -> None:
        """Called by the watchdog: scale, and break the pool if it cannot make progress."""
        if self.broken is not None:
            return
        if self._pending and not self.slots:
            self.grow()  # a pool nobody expected to need (or one that lost every actor)
        ready = [s for s in self.slots if s.ready]
        starting = [s for s in self.slots if not s.ready]
        busy = self._pending or any(s.in_flight for s in self.slots)
        for slot in starting:
            if now - slot.started > self._start_timeout:
                if not ready:
                    self._break(self._unschedulable(now - slot.started))
                    return
                # A spare actor that never got a place: give its claim back, keep going.
                self.unplaced += 1
                self._retire(slot)
        if not busy:
            self._last_progress = now
        elif ready and now - self._last_progress > self._stall_timeout:
            self._break(
                f"the Ray {self.kind} pool made no progress for {self._stall_timeout:.0f} s with "
                f"{len(self._pending)} calls waiting and "
                f"{sum(s.in_flight for s in self.slots)} batches in flight; "
                f"{self._describe_cluster()}"
            )
            return
        saturated = ready and not any(self._has_room(s) for s in ready)
        if self._pending and saturated and not starting and len(self.slots) < self.max_actors:
            self.grow()
        idle = [s for s in ready if s.in_flight == 0 and now - s.idle_since > self._idle_timeout]
        if idle and not self._pending and len(ready) > self.config.min_actors:
            self._retire(idle[0])

    def _unschedulable(self, waited: float) -> str:
        return (
            f"the Ray {self.kind} pool could not start an actor in {waited:.0f} s: each asks "
            f"for {self.config.demand() or 'no resources'}; {self._describe_cluster()}. "
            "Lower the pool's resource request, add nodes that offer it, or raise "
            "start_timeout_s if an autoscaler is still adding them."
        )

    def _break(self, message: str) -> None:
        self.broken = PoolBrokenError(message)
        self._changed.set()
        for call in [*self._pending, *(c for batch in self._sent.values() for c in batch)]:
            if not call.future.done():
                call.future.set_exception(self.broken)
        self._pending.clear()

    async def close(self) -> None:
        """Cancel waiting calls and kill the actors."""
        ray = _ray()

        if self._flush_handle is not None:
            self._flush_handle.cancel()
        for call in self._pending:
            call.future.cancel()
        self._pending.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for slot in self.slots:
            self.unplaced += not slot.ready
            with contextlib.suppress(Exception):
                ray.kill(slot.handle, no_restart=True)
        self.slots.clear()


class RayConfig(BaseModel):
    """Where the Ray executor runs and how its pools are sized (validated once, at load).

    ``address=None`` starts a private local Ray instance for the run (on 127.0.0.1, no
    dashboard, ``num_cpus`` CPUs, token authentication off unless ``RAY_AUTH_MODE`` says
    otherwise) and stops it at the end; an address joins a running cluster: ``"auto"`` on
    one of its nodes (as a RayJob's entrypoint runs), or ``ray://HOST:10001`` through Ray
    Client (which needs ``ray[client]``, not in the ``ray`` extra). ``cpu_headroom`` CPUs
    of the cluster are never claimed by verification actors the executor sizes itself
    (``verification.max_actors=None``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str | None = None
    generation: RayPoolConfig = Field(default_factory=default_generation_pool)
    verification: RayPoolConfig = Field(default_factory=RayPoolConfig)
    cpu_headroom: float = Field(default=0.5, ge=0)
    num_cpus: int | None = Field(default=None, ge=1, description="local instance only")
    temp_dir: str | None = Field(
        default=None,
        description="local instance only: its sockets and logs (keep it short: Unix socket "
        "paths are limited to 107 characters); Ray's default is /tmp/ray",
    )
    batch_window_s: float = Field(default=0.002, ge=0)
    start_timeout_s: float = Field(default=60.0, gt=0)
    stall_timeout_s: float = Field(default=300.0, gt=0)
    idle_timeout_s: float = Field(default=30.0, gt=0)


class RayExecutor:
    """Both pools on a Ray cluster; the driver (ledger, cache, store) stays in this process.

    See :class:`RayConfig`. If Ray is already initialised in this process, that instance
    is used and left running.
    """

    def __init__(
        self,
        config: RayConfig | None = None,
        *,
        sandbox_workers: int | None = None,
        allow_weak_isolation: bool = False,
    ) -> None:
        self.config = config or RayConfig()
        self.sandbox_workers = sandbox_workers
        self.allow_weak_isolation = allow_weak_isolation
        self._owns_ray = False
        self._recipe: Recipe | None = None
        self._sandbox: Any = None
        self._pools: dict[str, _ActorPool] = {}
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self, recipe: RecipeSource, endpoints: Mapping[str, EndpointConfig]) -> None:
        """Join or start Ray and start both pools' minimum actors (without waiting for them:
        calls queue until an actor is ready, and the watchdog bounds that wait)."""
        ray = _ray()
        self._recipe = load_recipe(recipe)
        if not ray.is_initialized():
            # On this thread: Ray installs its signal handlers only from the main thread.
            self._init_ray(ray)
        cfg = self.config
        verification, verify_max = self._verification_pool(ray.cluster_resources())
        gen_actor = ray.remote(GenerationActor)
        verify_actor = ray.remote(VerificationActor)
        n_gen = cfg.generation.max_actors or cfg.generation.min_actors
        split = {
            role: ep.model_copy(update={"concurrency": max(1, math.ceil(ep.concurrency / n_gen))})
            for role, ep in endpoints.items()
        }

        def options(pool: RayPoolConfig, concurrency: int) -> dict[str, Any]:
            return {
                "num_cpus": pool.num_cpus,
                "num_gpus": pool.num_gpus,
                "resources": dict(pool.resources),
                "max_concurrency": concurrency,
                "max_restarts": 0,  # a dead actor is replaced by the pool, which resends its work
            }

        self._pools["generation"] = _ActorPool(
            "generation",
            cfg.generation,
            max_actors=n_gen,
            calls_per_actor=sum(c.concurrency for c in split.values()) or None,
            make_actor=lambda name: gen_actor.options(**options(cfg.generation, 10_000)).remote(
                split
            ),
            method="complete",
            on_lost=self._resend_model_call,
            batch_window_s=cfg.batch_window_s,
            start_timeout_s=cfg.start_timeout_s,
            stall_timeout_s=cfg.stall_timeout_s,
            idle_timeout_s=cfg.idle_timeout_s,
            describe_cluster=_describe_cluster,
        )
        self._pools["verification"] = _ActorPool(
            "verification",
            verification,
            max_actors=verify_max,
            make_actor=lambda name: verify_actor.options(**options(verification, 1)).remote(recipe),
            method="run",
            on_lost=_lost_step,
            batch_window_s=cfg.batch_window_s,
            start_timeout_s=cfg.start_timeout_s,
            stall_timeout_s=cfg.stall_timeout_s,
            idle_timeout_s=cfg.idle_timeout_s,
            describe_cluster=_describe_cluster,
        )
        try:
            await self._start_pools(recipe, bool(endpoints))
        except BaseException:
            await self.close()  # the driver closes only an executor that started
            raise

    async def _start_pools(self, recipe: RecipeSource, calls_models: bool) -> None:
        assert self._recipe is not None
        self._watchdog = asyncio.create_task(self._watch())
        generation, verification = self._pools["generation"], self._pools["verification"]
        if calls_models:
            for _ in range(generation.config.min_actors):
                generation.grow()
            # Generation first: where both pools claim the same resources (CPUs, say),
            # verification actors could otherwise take every one of them and leave the
            # model calls that feed them no place. Bounded by the watchdog's start timeout.
            if set(generation.config.demand()) & set(verification.config.demand()):
                await generation.wait_started()
        if any(isinstance(s, PythonStep | VerifyStep) for s in self._recipe.steps):
            for _ in range(verification.config.min_actors):
                verification.grow()
        if self._recipe.needs_sandbox:
            from synthfactory.runtime.local import LocalExecutor

            self._sandbox = LocalExecutor(
                verify_workers=0,
                sandbox_workers=self.sandbox_workers,
                allow_weak_isolation=self.allow_weak_isolation,
            )
            await self._sandbox.start(recipe, {})

    def _init_ray(self, ray: Any) -> None:
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,  # never reconfigure the caller's logging
            "namespace": "synthfactory",
        }
        if self.config.address is None:
            # A private instance for this run: loopback only, nothing in the home directory.
            # Ray reads its auth mode only from the environment, so that is where it goes.
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            kwargs.update(
                _node_ip_address="127.0.0.1",
                num_cpus=self.config.num_cpus or os.cpu_count() or 1,
                object_store_memory=200 * 2**20,  # calls carry small batches, not tensors
            )
            if self.config.temp_dir is not None:
                kwargs["_temp_dir"] = self.config.temp_dir
        else:
            kwargs["address"] = self.config.address
        with quiet_lance_fork_warning():
            ray.init(**kwargs)
        self._owns_ray = True

    def _verification_pool(self, cluster: Mapping[str, float]) -> tuple[RayPoolConfig, int]:
        """The verification pool's config and its most actors. Left to size itself (no
        ``num_cpus``, no ``max_actors`` given), it gets one actor per CPU, each claiming an
        equal share of what the headroom leaves: every core verifies, and the scheduler still
        has ``cpu_headroom`` CPUs it can place other work on (on 2 CPUs: 2 actors of 0.75)."""
        cfg = self.config.verification
        cpus = float(cluster.get("CPU", 0))
        sized_by_user = cfg.max_actors is not None or "num_cpus" in cfg.model_fields_set
        if sized_by_user or cpus < 1:
            return cfg, self._verification_max(cluster)
        count = max(cfg.min_actors, math.floor(cpus))
        share = math.floor(1000 * max(cpus - self.config.cpu_headroom, 0.001) / count) / 1000
        return cfg.model_copy(update={"num_cpus": min(1.0, share)}), count

    def _verification_max(self, cluster: Mapping[str, float]) -> int:
        cfg = self.config.verification
        if cfg.max_actors is not None:
            return max(cfg.max_actors, cfg.min_actors)
        if cfg.num_cpus == 0:
            return cfg.min_actors
        spare = float(cluster.get("CPU", 0)) - self.config.cpu_headroom
        return max(cfg.min_actors, math.floor(spare / cfg.num_cpus + 1e-9))

    def _resend_model_call(self, call: _Call, reason: str) -> None:
        if call.sends > _MAX_CALL_RESENDS:
            call.future.set_exception(
                TransientModelError(f"model call lost {call.sends} times: {reason}")
            )
        else:
            self._pools["generation"].resend(call)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(_WATCHDOG_INTERVAL_S)
            now = time.monotonic()
            for pool in self._pools.values():
                pool.tick(now)

    async def call_model(self, role: str, request: ChatRequest) -> ChatResponse:
        """One model call, batched with others onto a generation actor."""
        answer = await self._pools["generation"].submit((role, request))
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, ChatResponse)
        return answer

    async def run_step(self, step: str, payload: dict[str, Any]) -> StepOutcome:
        """One Python or verifier step, batched onto a verification actor."""
        assert self._recipe is not None, "start() first"
        if isinstance(self._recipe.step(step), SandboxStep):
            if self._sandbox is None:
                return StepOutcome(infra_error="the sandbox pool is not running")
            outcome: StepOutcome = await self._sandbox.run_step(step, payload)
            return outcome
        answer = await self._pools["verification"].submit((step, payload))
        assert isinstance(answer, StepOutcome)
        return answer

    def actors(self) -> list[dict[str, Any]]:
        """The live actors: pool, name, worker (host:pid), pid, ready. For tests and status."""
        return [
            {"pool": kind, "name": s.name, "worker": s.worker, "pid": s.pid, "ready": s.ready}
            for kind, pool in self._pools.items()
            for s in pool.slots
        ]

    def stats(self) -> dict[str, dict[str, int]]:
        """Per pool: live actors, actors started, given up unplaced, and lost; batches done."""
        return {
            kind: {
                "actors": len(p.slots),
                "started": p.started,
                "unplaced": p.unplaced,
                "deaths": p.deaths,
                "batches": p.batches,
            }
            for kind, p in self._pools.items()
        }

    def describe(self) -> dict[str, Any]:
        """What the run records of where its steps ran (``resume`` uses the same)."""
        # Only what was set: defaults (and self-sizing) stay defaults when read back.
        return {"kind": "ray", "config": self.config.model_dump(exclude_unset=True)}

    async def close(self) -> None:
        """Kill the actors, stop the sandbox, and stop Ray if this executor started it."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        for pool in self._pools.values():
            await pool.close()
        if self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await sandbox.close()
        if self._owns_ray:
            ray = _ray()

            self._owns_ray = False
            await asyncio.to_thread(ray.shutdown)


def _ray() -> Any:
    """The ray module (typed ``Any``: its API is largely unannotated)."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError.for_extra("ray", "ray") from None
    return ray


def _lost_step(call: _Call, reason: str) -> None:
    # The driver retries an infra_error (max_infra_retries), so the verification pool
    # need not resend; it only says what happened.
    call.future.set_result(StepOutcome(infra_error=reason[:2000]))


def _describe_cluster() -> str:
    ray = _ray()

    def fmt(resources: Mapping[str, float]) -> str:
        shown = {
            k: round(v, 2)
            for k, v in sorted(resources.items())
            if not k.startswith("node:") and k not in ("memory", "object_store_memory")
        }
        return str(shown)

    try:
        return (
            f"the cluster has {fmt(ray.cluster_resources())} in all, "
            f"{fmt(ray.available_resources())} free"
        )
    except Exception as err:  # the watchdog must report, not crash, when Ray is in trouble
        return f"the cluster's resources could not be read ({err})"


def load_ray_config(path: str | os.PathLike[str]) -> RayConfig:
    """Read a :class:`RayConfig` from a YAML file (the CLI's ``--ray-config``)."""
    import yaml
    from pydantic import ValidationError

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        return RayConfig(**data)
    except OSError as err:
        raise ConfigError(f"--ray-config {path}: {err}") from None
    except (yaml.YAMLError, ValidationError, TypeError) as err:
        raise ConfigError(f"--ray-config {path}: {err}") from None


__all__ = [
    "GenerationActor",
    "RayConfig",
    "RayExecutor",
    "RayPoolConfig",
    "VerificationActor",
    "load_ray_config",
]
