"""Endpoints brought up from specs, and a run's own endpoints brought back to resume it.

A spec is what ``--endpoint`` takes: ``ROLE=URL[,options]``, ``ROLE=fake`` (the fake
server, for trying things out) or ``ROLE=local:MODEL`` (the embedded model, started on
127.0.0.1). A run records its endpoints without their API keys (and, for those that were
brought up, the spec they came from as ``origin``): keys come from the environment
mapping the caller passes in, read here by name and never from ``os.environ``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import SecretStr

from synthfactory.errors import ConfigError
from synthfactory.models.endpoint import EndpointConfig, parse_endpoint


def with_key(config: EndpointConfig, env: Mapping[str, str]) -> EndpointConfig:
    """``config`` with its API key from ``env``: the variable its ``key_env`` names (which
    must be set), else ``SYNTHFACTORY_API_KEY_<ROLE>`` if set."""
    name = config.api_key_env or f"SYNTHFACTORY_API_KEY_{config.role.upper()}"
    key = env.get(name)
    if config.api_key_env and not key:
        raise ConfigError(
            f"endpoint {config.role!r} names key_env={name}, "
            "but that environment variable is not set"
        )
    return config.model_copy(update={"api_key": SecretStr(key)}) if key else config


@contextlib.contextmanager
def open_endpoints(
    specs: Sequence[str], *, env: Mapping[str, str], concurrency: int | None = None
) -> Iterator[list[EndpointConfig]]:
    """Parse ``specs`` (with keys from ``env``) and bring up those that are not URLs: the
    fake server and the embedded model, stopped when the block ends. ``concurrency`` is
    the default number of requests in flight per endpoint."""
    defaults: dict[str, Any] = {} if concurrency is None else {"concurrency": concurrency}
    with contextlib.ExitStack() as stack:
        configs: dict[int, EndpointConfig] = {}
        local: list[tuple[int, str]] = []
        for index, spec in enumerate(specs):
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
            configs[index] = with_key(config.model_copy(update={"origin": origin}), env)
        if local:
            from synthfactory.local.endpoints import local_endpoints
            from synthfactory.local.weights import default_cache_dir

            started = stack.enter_context(
                local_endpoints(
                    [spec for _, spec in local],
                    cache_dir=default_cache_dir(env),
                    defaults=defaults,
                )
            )
            for (index, spec), config in zip(local, started, strict=True):
                origin = spec.partition("=")[2]
                configs[index] = config.model_copy(update={"origin": origin})
        yield [configs[i] for i in sorted(configs)]


@contextlib.contextmanager
def stored_endpoints(
    stored: Mapping[str, Mapping[str, Any]],
    *,
    env: Mapping[str, str],
    concurrency: int | None = None,
) -> Iterator[dict[str, EndpointConfig]]:
    """A run's own endpoints by role, from what its record keeps (``stored``): URLs as
    they were, with keys from ``env``; those that were brought up (``origin``: the fake
    server, the embedded model) brought up again from the same spec, serving the model
    they served. ``concurrency``, if given, replaces every endpoint's."""
    urls: dict[str, EndpointConfig] = {}
    specs: list[str] = []
    for role, cfg in stored.items():
        origin = cfg.get("origin")
        if origin:
            specs.append(f"{role}={origin}")
        else:
            config = EndpointConfig(**cfg)
            if concurrency is not None:
                config = config.model_copy(update={"concurrency": concurrency})
            urls[role] = with_key(config, env)
    with open_endpoints(specs, env=env, concurrency=concurrency) as started:
        by_role = dict(urls)
        for config in started:
            model = stored[config.role].get("model")
            by_role[config.role] = (
                config if config.model is not None else config.model_copy(update={"model": model})
            )
        yield by_role


__all__ = ["open_endpoints", "stored_endpoints", "with_key"]
