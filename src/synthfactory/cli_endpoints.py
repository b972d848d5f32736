"""How the CLI turns ``--endpoint`` and ``--executor`` options (or a run's stored ones)
into endpoint configs and an executor. Environment variables (API keys) are read here,
at the edge, and only here."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from synthfactory.cli_tables import stderr
from synthfactory.errors import ConfigError
from synthfactory.models.endpoint import EndpointConfig, parse_endpoint


@contextlib.contextmanager
def endpoints(specs: list[str] | None, concurrency: int | None) -> Iterator[list[EndpointConfig]]:
    """Parse --endpoint options, read keys from the environment, and bring up the endpoints
    that are not URLs: ``ROLE=fake`` (the fake server) and ``ROLE=local:MODEL`` (the
    embedded model, started on 127.0.0.1 and stopped when the block ends)."""
    defaults: dict[str, Any] = {} if concurrency is None else {"concurrency": concurrency}
    with contextlib.ExitStack() as stack:
        configs: dict[int, EndpointConfig] = {}
        local: list[tuple[int, str]] = []
        for index, spec in enumerate(specs or []):
            role, _, rest = spec.partition("=")
            target, _, options = rest.partition(",")
            if target.strip() == "local:minilm":
                from synthfactory.runtime.dedup_gate import local_embedder_endpoint

                configs[index] = local_embedder_endpoint(role.strip())
                continue
            if target.strip().startswith("local:"):
                local.append((index, spec))
                continue
            resolved, origin = spec, None
            if target.strip() == "fake":
                from synthfactory.testing import FakeServer, FakeServerConfig

                server = stack.enter_context(FakeServer(FakeServerConfig(latency_s=0.05)))
                resolved = f"{role}={server.url}" + (f",{options}" if options else "")
                origin = "fake"
            config = parse_endpoint(resolved, defaults=defaults)
            configs[index] = with_key(config.model_copy(update={"origin": origin}))
        if local:
            from synthfactory.local.endpoints import local_endpoints
            from synthfactory.local.weights import default_cache_dir

            started = stack.enter_context(
                local_endpoints(
                    [spec for _, spec in local],
                    cache_dir=default_cache_dir(os.environ),
                    defaults=defaults,
                )
            )
            for (index, spec), config in zip(local, started, strict=True):
                origin = spec.partition("=")[2]
                configs[index] = config.model_copy(update={"origin": origin})
        yield [configs[i] for i in sorted(configs)]


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


def with_key(config: EndpointConfig) -> EndpointConfig:
    env = config.api_key_env or f"SYNTHFACTORY_API_KEY_{config.role.upper()}"
    key = os.environ.get(env)
    if config.api_key_env and not key:
        raise ConfigError(
            f"endpoint {config.role!r} names key_env={env}, "
            "but that environment variable is not set"
        )
    return config.model_copy(update={"api_key": SecretStr(key)}) if key else config


def executor(
    name: str,
    *,
    ray_address: str | None,
    ray_config: Path | None,
    allow_weak_isolation: bool = False,
) -> Any:
    """The one place executor names are resolved."""
    if name == "local":
        if ray_address is not None or ray_config is not None:
            raise ConfigError("--ray-address and --ray-config need --executor ray")
        from synthfactory.runtime.local import LocalExecutor

        return LocalExecutor(allow_weak_isolation=allow_weak_isolation)
    if name == "ray":
        from synthfactory.runtime.ray import RayConfig, RayExecutor, load_ray_config

        config = load_ray_config(ray_config) if ray_config is not None else RayConfig()
        if ray_address is not None:
            config = config.model_copy(update={"address": ray_address})
        return RayExecutor(config, allow_weak_isolation=allow_weak_isolation)
    raise ConfigError(f"--executor {name!r}: expected local or ray")


def stored_run_config(workspace: Path, run_id: str) -> dict[str, Any]:
    """The config run ``run_id`` was started with, as its ledger keeps it."""
    from synthfactory.ledger import Ledger
    from synthfactory.workspace import Workspace

    ledger = Ledger(Workspace(workspace, create=False).ledger_to_read)
    try:
        return dict(ledger.run(run_id).config)
    finally:
        ledger.close()


def ray_executor(config: dict[str, Any], address: str | None) -> Any:
    from synthfactory.runtime.ray import RayConfig, RayExecutor

    ray_config = RayConfig(**config)
    if address is not None:
        ray_config = ray_config.model_copy(update={"address": address})
    return RayExecutor(ray_config)


def stored_endpoints(run_config: dict[str, Any]) -> tuple[list[EndpointConfig], list[str]]:
    """The run's own endpoints: URLs as stored (keys read from the environment again), and
    specs for those that must be brought up again (the embedded model, the fake server)."""
    stored = run_config.get("endpoints", {})
    configs, specs = [], []
    for role, cfg in stored.items():
        origin = cfg.get("origin")
        if origin:
            specs.append(f"{role}={origin}")
        else:
            configs.append(with_key(EndpointConfig(**cfg)))
    return configs, specs


__all__ = [
    "default_endpoints",
    "endpoints",
    "executor",
    "ray_executor",
    "stored_endpoints",
    "stored_run_config",
    "with_key",
]
