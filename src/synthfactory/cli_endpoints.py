"""How the CLI turns ``--endpoint`` and ``--executor`` options into endpoint configs and an
executor, over :mod:`synthfactory.runtime.endpoints` and :mod:`synthfactory.runtime.executors`.
The environment (API keys, the model cache) is read here, at the edge, and passed in."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synthfactory.cli_tables import stderr
from synthfactory.errors import ConfigError
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.runtime.endpoints import open_endpoints
from synthfactory.runtime.executors import EXECUTOR_NAMES, executor_named


@contextlib.contextmanager
def endpoints(specs: list[str] | None, concurrency: int | None) -> Iterator[list[EndpointConfig]]:
    """Parse --endpoint options with keys from the environment, and bring up the endpoints
    that are not URLs (``ROLE=fake``, ``ROLE=local:MODEL``) for the length of the block."""
    with open_endpoints(specs or [], env=os.environ, concurrency=concurrency) as configs:
        yield configs


def default_endpoints(recipe: str, replay: bool) -> list[str]:
    """No --endpoint: every role the recipe calls goes to the embedded local model."""
    if replay:
        return []  # replay needs no endpoint at all
    from synthfactory.local.endpoints import DEFAULT_LOCAL_MODEL, default_local_specs
    from synthfactory.recipe.loader import resolve_recipe

    loaded = resolve_recipe(recipe)[0]
    embedders = {s.embedder for s in loaded.dedup_steps if s.method == "semantic"}
    roles = loaded.roles - embedders
    if roles:
        stderr().print(
            f"no --endpoint given: using the embedded model local:{DEFAULT_LOCAL_MODEL} for "
            f"{', '.join(sorted(roles))} (point a role elsewhere with --endpoint ROLE=URL)",
            highlight=False,
        )
    # Semantic dedup embeds with all-MiniLM-L6-v2 in process (the embed extra).
    return default_local_specs(roles) + [f"{role}=local:minilm" for role in sorted(embedders)]


def executor(
    name: str,
    *,
    ray_address: str | None,
    ray_config: Path | None,
    allow_weak_isolation: bool = False,
) -> Any:
    """The executor --executor names (see :func:`executor_named`), with the CLI's wording
    for what does not go together."""
    if name == "local" and (ray_address is not None or ray_config is not None):
        raise ConfigError("--ray-address and --ray-config need --executor ray")
    if name not in EXECUTOR_NAMES:
        raise ConfigError(f"--executor {name!r}: expected local or ray")
    return executor_named(
        name,
        ray_config=_ray_config(ray_config),
        ray_address=ray_address,
        allow_weak_isolation=allow_weak_isolation,
    )


def resumed_executor(
    workspace: Path, run_id: str, *, ray_address: str | None, ray_config: Path | None
) -> Any:
    """The executor run ``run_id`` ran on, with --ray-address or --ray-config replacing its
    own Ray settings (which only a run on Ray has)."""
    from synthfactory.runtime.executors import recorded_executor, stored_executor

    described = recorded_executor(workspace, run_id)
    if described.get("kind") != "ray":
        raise ConfigError("--ray-address and --ray-config need --executor ray")
    return stored_executor(described, ray_config=_ray_config(ray_config), ray_address=ray_address)


def _ray_config(path: Path | None) -> Any:
    if path is None:
        return None
    from synthfactory.runtime.ray import load_ray_config

    return load_ray_config(path)


__all__ = ["default_endpoints", "endpoints", "executor", "resumed_executor"]
