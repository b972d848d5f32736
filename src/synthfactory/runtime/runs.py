"""Starting, resuming and summarising runs: the functions users call.

:func:`run_recipe` records a new run and drives it; :func:`resume_run` carries one on from
where it stopped; :func:`run_summary` tells what a run did, from the ledger alone. Each
opens the workspace's ledger, cache and audit log, resolves endpoints, and hands the rest
to a :class:`~synthfactory.runtime.driver.RunDriver`.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthfactory.cache import ResponseCache
from synthfactory.errors import ConfigError, RecipeError
from synthfactory.ledger import Ledger, RunRecord
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.recipe.loader import RecipeSource, resolve_recipe
from synthfactory.recipe.model import Recipe
from synthfactory.runtime.audit import AuditRecorder, audit_manifest, open_workspace_log
from synthfactory.runtime.config import RunConfig
from synthfactory.runtime.diversity import diversity_plan
from synthfactory.runtime.driver import RunDriver
from synthfactory.runtime.endpoints import stored_endpoints
from synthfactory.runtime.executor import Executor
from synthfactory.runtime.executors import stored_executor
from synthfactory.runtime.progress import ProgressObserver, RunSummary
from synthfactory.runtime.summary import run_summary
from synthfactory.store import DatasetStore
from synthfactory.workspace import Workspace


def _new_run_id() -> str:
    return time.strftime("run-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(3)


def _check_roles(recipe: Recipe, endpoints: Mapping[str, EndpointConfig]) -> None:
    unknown = set(endpoints) - recipe.roles
    if unknown:
        raise ConfigError(
            f"--endpoint role(s) {sorted(unknown)} are not used by recipe {recipe.name!r}, "
            f"whose model steps use {sorted(recipe.roles) or 'no roles'}"
        )
    missing = recipe.roles - set(endpoints)
    if missing:
        role = sorted(missing)[0]
        raise ConfigError(
            f"recipe {recipe.name!r} calls role(s) {sorted(missing)} but no endpoint serves "
            f"them; pass --endpoint {role}=URL (an OpenAI-compatible base URL ending in /v1)"
        )


async def _resolve_models(endpoints: Mapping[str, EndpointConfig]) -> dict[str, EndpointConfig]:
    import aiohttp

    from synthfactory.models.openai_http import discover_model

    resolved = dict(endpoints)
    todo = [role for role, cfg in endpoints.items() if cfg.model is None]
    if todo:
        async with aiohttp.ClientSession() as session:
            for role in todo:
                model = await discover_model(session, endpoints[role])
                resolved[role] = endpoints[role].model_copy(update={"model": model})
    return resolved


def _previous_endpoints(ledger: Ledger, recipe_name: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for run in ledger.runs():
        if run.recipe_name == recipe_name:
            for role, cfg in run.config.get("endpoints", {}).items():
                found.setdefault(role, cfg)
    return found


def _by_role(endpoints: Sequence[EndpointConfig]) -> dict[str, EndpointConfig]:
    by_role: dict[str, EndpointConfig] = {}
    for endpoint in endpoints:
        if endpoint.role in by_role:
            raise ConfigError(
                f"--endpoint: role {endpoint.role!r} is given twice ({by_role[endpoint.role].url} "
                f"and {endpoint.url}); give each role one endpoint"
            )
        by_role[endpoint.role] = endpoint
    return by_role


def _replayed(
    workspace: str | Path, recipe: Recipe, by_role: dict[str, EndpointConfig]
) -> dict[str, EndpointConfig]:
    """The endpoints a replay uses: those given, else those of an earlier run of ``recipe``
    in ``workspace`` (which must exist: a replay has nothing to replay in a new one)."""
    missing = [r for r in sorted(recipe.roles) if r not in by_role or by_role[r].model is None]
    if not missing:
        return by_role
    if not (Path(workspace).expanduser() / "workspace.json").exists():
        raise ConfigError(
            f"--replay: {workspace} is not a workspace yet, so no earlier run of "
            f"{recipe.name!r} used role {missing[0]!r}; nothing to replay from"
        )
    ledger = Ledger(Workspace(workspace, create=False).ledger_to_read)
    try:
        previous = _previous_endpoints(ledger, recipe.name)
    finally:
        ledger.close()
    replayed = dict(by_role)
    for role in missing:
        if role not in previous:
            raise ConfigError(
                f"--replay: no earlier run of {recipe.name!r} in this workspace used "
                f"role {role!r}; nothing to replay from"
            )
        replayed[role] = EndpointConfig(**previous[role])
    return replayed


def _recorder(
    ws: Workspace, run: RunRecord, recipe: Recipe, endpoints: Mapping[str, EndpointConfig]
) -> AuditRecorder:
    keys = [e.api_key.get_secret_value() for e in endpoints.values() if e.api_key is not None]
    log = open_workspace_log(ws, known_secrets=keys)
    return AuditRecorder(log, run_id=run.run_id, recipe=recipe, endpoints=endpoints)


@dataclass(frozen=True)
class _Plan:
    """Everything a run needs that run_recipe and resume_run work out differently."""

    run: RunRecord
    recipe: Recipe
    source: RecipeSource
    config: RunConfig
    endpoints: Mapping[str, EndpointConfig]


async def _drive(
    ws: Workspace,
    ledger: Ledger,
    cache: ResponseCache,
    plan: _Plan,
    *,
    executor: Executor | None,
    observer: ProgressObserver | None,
    audit: bool,
) -> RunSummary:
    driver = RunDriver(
        workspace=ws,
        ledger=ledger,
        cache=cache,
        store=_store_for(ws, plan.run.dataset),
        run=plan.run,
        recipe=plan.recipe,
        source=plan.source,
        config=plan.config,
        endpoints=plan.endpoints,
        executor=executor or _default_executor(),
        observer=observer,
        audit=_recorder(ws, plan.run, plan.recipe, plan.endpoints) if audit else None,
    )
    try:
        return await driver.drive()
    finally:
        if driver.audit is not None:
            driver.audit.close()


def _describe_executor(executor: Executor | None) -> dict[str, Any]:
    """Where the run's steps ran, as the executor describes itself (a custom executor
    without ``describe()`` is named by its class)."""
    if executor is None:
        return {"kind": "local"}
    describe = getattr(executor, "describe", None)
    if callable(describe):
        return dict(describe())
    return {"kind": type(executor).__name__}


def _with_coverage(recipe: Recipe, config: RunConfig) -> RunConfig:
    """With coverage targets, the run's target is their sum: the run ends when every
    category is filled (or has run dry), whatever ``--target`` said."""
    if recipe.coverage is None:
        return config
    total = sum(recipe.targets.values())
    if total == config.target:
        return config
    try:
        return RunConfig(**{**config.model_dump(), "target": total})
    except ValueError as err:
        raise ConfigError(
            f"recipe {recipe.name!r} asks for {total} examples across its coverage targets: {err}"
        ) from None


@contextlib.contextmanager
def _opened(
    workspace: str | Path, *, create: bool
) -> Iterator[tuple[Workspace, Ledger, ResponseCache]]:
    ws = Workspace(workspace, create=create)
    ledger = Ledger(ws.ledger_path)
    cache = ResponseCache(ws.cache_path)
    try:
        yield ws, ledger, cache
    finally:
        cache.close()
        ledger.close()


def _default_executor() -> Executor:
    from synthfactory.runtime.local import LocalExecutor

    return LocalExecutor()


def _store_for(ws: Workspace, dataset: str) -> DatasetStore:
    from synthfactory.store.lance import LanceStore

    return LanceStore(ws.dataset_uri(dataset))


async def run_recipe(
    recipe: str | Path | Recipe,
    *,
    workspace: str | Path,
    config: RunConfig,
    endpoints: Sequence[EndpointConfig] = (),
    executor: Executor | None = None,
    observer: ProgressObserver | None = None,
    on_start: Any = None,
    audit: bool = True,
) -> RunSummary:
    """Start a new run of ``recipe`` and drive it to its target.

    ``endpoints`` give one :class:`EndpointConfig` per role the recipe calls; a missing
    model id is asked of the endpoint (``GET /models``). With ``config.replay`` no endpoint
    is needed: every call must be in the workspace's cache. ``on_start(run_id)`` is called
    once the run is recorded, before any work. With ``audit`` (the default) every step
    attempt is appended to the workspace's signed audit log (``WORKSPACE/audit/``).
    """
    loaded, source = resolve_recipe(recipe)
    # Everything a user can have got wrong is checked before the workspace is created or
    # touched: a refused run leaves no trace.
    by_role = _by_role(endpoints)
    if config.replay:
        by_role = _replayed(workspace, loaded, by_role)
    _check_roles(loaded, by_role)
    config = _with_coverage(loaded, config)
    if not config.replay:
        by_role = await _resolve_models(by_role)
    with _opened(workspace, create=True) as (ws, ledger, cache):
        dataset = config.dataset or loaded.dataset_name
        now = time.time()
        run = RunRecord(
            run_id=_new_run_id(),
            recipe_name=loaded.name,
            recipe_source=source.describe(),
            recipe_digest=loaded.digest(),
            recipe_version=loaded.version,
            dataset=dataset,
            config={
                "run": config.model_dump(),
                "endpoints": {r: e.public_dict() for r, e in by_role.items()},
                "audit": audit_manifest(ws) if audit else None,
                "diversity": diversity_plan(loaded),
                "executor": _describe_executor(executor),
                "canaries": None
                if loaded.canaries is None
                else {
                    "floors": dict(loaded.canaries.floors),
                    "min_count": loaded.canaries.min_count,
                },
            },
            status="created",
            message="",
            created_at=now,
            updated_at=now,
            active_s=0.0,
        )
        ledger.create_run(run)
        if on_start is not None:
            on_start(run.run_id)
        plan = _Plan(run, loaded, source, config, by_role)
        return await _drive(
            ws, ledger, cache, plan, executor=executor, observer=observer, audit=audit
        )


async def resume_run(
    run_id: str,
    *,
    workspace: str | Path,
    endpoints: Sequence[EndpointConfig] = (),
    env: Mapping[str, str] | None = None,
    concurrency: int | None = None,
    recipe: Recipe | None = None,
    executor: Executor | None = None,
    observer: ProgressObserver | None = None,
    allow_changed_recipe: bool = False,
    audit: bool = True,
) -> RunSummary:
    """Carry on run ``run_id`` from exactly where it stopped, where it ran before.

    The run's own endpoints are used again: URLs as they were, with API keys (never
    stored) read by name from ``env`` (pass ``os.environ`` to use the process environment;
    by default no keys), and those the run brought up itself (the fake server, the
    embedded model) brought up again; ``concurrency`` replaces theirs. ``endpoints`` given
    here override by role. The executor defaults to the one the run recorded (Ray with the
    run's own settings for a run started on Ray, else local); ``executor`` overrides it.
    A run whose recipe file was loaded by path is loaded again from that path; one started
    from a Recipe object needs ``recipe``.
    """
    with _opened(workspace, create=False) as (ws, ledger, cache):
        run = ledger.run(run_id)
        if run.status == "finished":
            return run_summary(ledger, ws, run_id)
        loaded, source = _resumed_recipe(run, recipe, allow_changed_recipe)
        config = RunConfig(**run.config["run"])
        stored: dict[str, dict[str, Any]] = run.config["endpoints"]
        given_roles = {e.role for e in endpoints}
        own = {role: cfg for role, cfg in stored.items() if role not in given_roles}
        with stored_endpoints(own, env=env or {}, concurrency=concurrency) as by_role:
            for given in endpoints:
                model = stored.get(given.role, {}).get("model")
                keep_model = given.role in stored and given.model is None
                by_role[given.role] = (
                    given.model_copy(update={"model": model}) if keep_model else given
                )
            _check_roles(loaded, by_role)
            steps_on = executor or stored_executor(run.config.get("executor"))
            plan = _Plan(run, loaded, source, config, by_role)
            return await _drive(
                ws, ledger, cache, plan, executor=steps_on, observer=observer, audit=audit
            )


def _resumed_recipe(
    run: RunRecord, recipe: Recipe | None, allow_changed: bool
) -> tuple[Recipe, RecipeSource]:
    """The recipe run ``run`` goes on with: ``recipe`` if given, else loaded again from
    where the run loaded it; refused if it changed since, unless ``allow_changed``."""
    source_info = run.recipe_source
    if recipe is not None:
        loaded, source = resolve_recipe(recipe)
    elif source_info["kind"] == "pickle":
        raise ConfigError(
            f"run {run.run_id} was started from a Recipe object; pass it again to resume_run()"
        )
    else:
        loaded, source = resolve_recipe(source_info["ref"])
    if loaded.digest() != run.recipe_digest and not allow_changed:
        raise RecipeError(
            f"recipe {loaded.name!r} changed since run {run.run_id} started (digest "
            f"{run.recipe_digest[:12]} then, {loaded.digest()[:12]} now); resuming would mix "
            "two recipes in one run. Start a new run, or allow it explicitly."
        )
    return loaded, source


__all__ = ["resume_run", "run_recipe", "run_summary"]
