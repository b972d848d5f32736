"""Executors by name: the one mapping from a name (``local``, ``ray``) to an executor, and
the executor a run recorded, made again to resume it.

A run records where its steps ran as the executor describes itself
(``RunRecord.config["executor"]``: ``{"kind": "local"}``, or ``{"kind": "ray", "config":
{...}}`` with the Ray settings that were set). :func:`stored_executor` reads that back, so
:func:`~synthfactory.runtime.runs.resume_run`, the CLI and a service resume a run where it
ran, not wherever the caller's default is. Ray is imported only when a Ray executor is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthfactory.errors import ConfigError

if TYPE_CHECKING:
    from synthfactory.runtime.executor import Executor
    from synthfactory.runtime.ray import RayConfig

EXECUTOR_NAMES = ("local", "ray")


def executor_named(
    name: str,
    *,
    ray_config: RayConfig | None = None,
    ray_address: str | None = None,
    allow_weak_isolation: bool = False,
) -> Executor:
    """A new executor of kind ``name``: ``local`` (this machine) or ``ray`` (``ray_config``,
    default :class:`RayConfig()`, with its address replaced by ``ray_address`` if given)."""
    if name == "local":
        if ray_address is not None or ray_config is not None:
            raise ConfigError("ray_address and ray_config need the ray executor")
        from synthfactory.runtime.local import LocalExecutor

        return LocalExecutor(allow_weak_isolation=allow_weak_isolation)
    if name == "ray":
        from synthfactory.runtime.ray import RayConfig, RayExecutor

        config = RayConfig() if ray_config is None else ray_config
        if ray_address is not None:
            config = config.model_copy(update={"address": ray_address})
        return RayExecutor(config, allow_weak_isolation=allow_weak_isolation)
    raise ConfigError(f"executor {name!r}: expected one of {', '.join(EXECUTOR_NAMES)}")


def stored_executor(
    described: Mapping[str, Any] | None,
    *,
    ray_config: RayConfig | None = None,
    ray_address: str | None = None,
) -> Executor:
    """The executor a run ran on, made again from its description (see the module
    docstring): a Ray run gets its own Ray settings back unless ``ray_config`` replaces
    them, and ``ray_address`` replaces the address. A run on a custom executor (one given
    from Python, which cannot be made again from its name) resumes on the local one."""
    kind = str((described or {}).get("kind", "local"))
    if kind == "ray" and ray_config is None:
        from synthfactory.runtime.ray import RayConfig

        ray_config = RayConfig(**((described or {}).get("config") or {}))
    return executor_named(
        kind if kind in EXECUTOR_NAMES else "local",
        ray_config=ray_config,
        ray_address=ray_address,
    )


def recorded_executor(workspace: str | Path, run_id: str) -> dict[str, Any]:
    """How run ``run_id`` in ``workspace`` recorded where its steps ran (``{"kind":
    "local"}`` for a run recorded before executors described themselves)."""
    from synthfactory.ledger import Ledger
    from synthfactory.workspace import Workspace

    ledger = Ledger(Workspace(workspace, create=False).ledger_to_read)
    try:
        return dict(ledger.run(run_id).config.get("executor") or {"kind": "local"})
    finally:
        ledger.close()


__all__ = ["EXECUTOR_NAMES", "executor_named", "recorded_executor", "stored_executor"]
