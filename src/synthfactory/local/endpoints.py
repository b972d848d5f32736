"""``local:<model>`` endpoints: resolved at the edge into a running server and its config.

An endpoint spec ``ROLE=local:NAME[,key=value...]`` names an embedded model instead of a
URL. :func:`local_endpoints` makes the weights ready (:func:`ensure_weights`), starts one
:class:`LocalModelServer` per distinct model and settings, yields one
:class:`EndpointConfig` per spec (in order), and stops every server when the ``with``
block ends, however it ends. Roles naming the same model share one server: two servers
would compete for the same few cores. Such a shared server is priced once, on the first
role that uses it (the run sums ``price_hour`` over its endpoints).

Options of a local spec: ``parallel=N`` (slots), ``threads=N``, ``ctx=N`` (tokens per
slot); every other option is an :class:`EndpointConfig` field (``price_hour``,
``concurrency``, ``timeout``...) and overrides the local defaults.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from synthfactory.errors import ConfigError
from synthfactory.local.server import (
    DEFAULT_CTX_SIZE,
    DEFAULT_PARALLEL,
    LocalModelServer,
    default_threads,
    local_endpoint,
)
from synthfactory.local.weights import KnownModel, ensure_weights, known_model
from synthfactory.models.endpoint import EndpointConfig, parse_endpoint

LOCAL_PREFIX = "local:"
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-0.5b"
"""The model to use when no endpoint is configured: the one the ``local`` extra installs."""

_SERVER_OPTIONS = {"parallel": "n_parallel", "threads": "n_threads", "ctx": "ctx_size"}


@dataclass(frozen=True)
class LocalSpec:
    """A parsed ``ROLE=local:NAME[,key=value...]`` spec."""

    role: str
    model: KnownModel
    n_parallel: int = DEFAULT_PARALLEL
    n_threads: int | None = None
    ctx_size: int = DEFAULT_CTX_SIZE
    options: Mapping[str, str] = field(default_factory=dict)
    """Endpoint options (``price_hour=...``) passed on to :func:`parse_endpoint`."""

    def server_key(self) -> tuple[str, int, int | None, int]:
        """Specs with equal keys share one server."""
        return (self.model.name, self.n_parallel, self.n_threads, self.ctx_size)


def is_local_spec(spec: str) -> bool:
    """True for ``ROLE=local:...`` specs, which :func:`local_endpoints` resolves."""
    _, _, rest = spec.partition("=")
    return rest.strip().startswith(LOCAL_PREFIX)


def default_local_specs(roles: Iterable[str], model: str = DEFAULT_LOCAL_MODEL) -> list[str]:
    """Specs serving every role in ``roles`` from the embedded ``model`` (one shared server)."""
    return [f"{role}={LOCAL_PREFIX}{model}" for role in sorted(roles)]


def parse_local_spec(spec: str) -> LocalSpec:
    """Parse ``ROLE=local:NAME[,parallel=N,threads=N,ctx=N,<endpoint option>=V...]``."""
    role, _, rest = spec.partition("=")
    role = role.strip()
    target, *raw_options = rest.split(",")
    target = target.strip()
    if not role or not target.startswith(LOCAL_PREFIX):
        raise ConfigError(f"--endpoint {spec!r}: expected ROLE=local:MODEL[,key=value...]")
    model = known_model(target.removeprefix(LOCAL_PREFIX))
    server: dict[str, int] = {}
    options: dict[str, str] = {}
    for option in raw_options:
        key, eq, value = option.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise ConfigError(f"--endpoint {spec!r}: bad option {option!r} (use key=value)")
        if key == "model":
            raise ConfigError(
                f"--endpoint {spec!r}: a local endpoint serves {model.name}; drop 'model='"
            )
        if key in _SERVER_OPTIONS:
            try:
                number = int(value)
            except ValueError:
                number = 0
            if number < 1:
                raise ConfigError(
                    f"--endpoint {spec!r}: {key} must be a positive integer, got {value!r}"
                )
            server[_SERVER_OPTIONS[key]] = number
        else:
            options[key] = value
    return LocalSpec(
        role=role,
        model=model,
        n_parallel=server.get("n_parallel", DEFAULT_PARALLEL),
        n_threads=server.get("n_threads"),
        ctx_size=server.get("ctx_size", DEFAULT_CTX_SIZE),
        options=options,
    )


@contextlib.contextmanager
def local_endpoints(
    specs: Sequence[str],
    *,
    cache_dir: Path,
    defaults: Mapping[str, Any] | None = None,
    search_path: Sequence[str] | None = None,
    verify: Literal["stamp", "full"] = "stamp",
    ready_timeout_s: float = 120.0,
) -> Iterator[list[EndpointConfig]]:
    """Start the servers the ``local:`` ``specs`` need; yield their configs; stop them.

    ``cache_dir`` holds the assembled weights (the CLI passes
    :func:`~synthfactory.local.weights.default_cache_dir` of ``os.environ``). ``defaults``
    are endpoint fields applied under each spec's own options (the CLI's ``--concurrency``).
    """
    parsed = [parse_local_spec(spec) for spec in specs]
    with contextlib.ExitStack() as stack:
        servers: dict[tuple[str, int, int | None, int], LocalModelServer] = {}
        priced: set[tuple[str, int, int | None, int]] = set()
        configs = []
        for spec in parsed:
            key = spec.server_key()
            if key not in servers:
                path = ensure_weights(spec.model, cache_dir, search_path=search_path, verify=verify)
                servers[key] = stack.enter_context(
                    LocalModelServer(
                        path,
                        n_parallel=spec.n_parallel,
                        n_threads=spec.n_threads or default_threads(),
                        ctx_size=spec.ctx_size,
                        ready_timeout_s=ready_timeout_s,
                    )
                )
            price = None if key not in priced else 0.0
            priced.add(key)
            base = local_endpoint(spec.role, servers[key], price_hour=price)
            configs.append(_with_options(base, spec, defaults or {}))
        yield configs


def _with_options(
    base: EndpointConfig, spec: LocalSpec, defaults: Mapping[str, Any]
) -> EndpointConfig:
    fields = base.public_dict()
    fields.update(defaults)
    for name in ("role", "url", "model", "api_key", "api_key_env"):
        fields.pop(name, None)
    resolved = f"{spec.role}={base.url},model={base.model}" + "".join(
        f",{k}={v}" for k, v in spec.options.items()
    )
    # parse_endpoint validates the user's options exactly as for any other endpoint.
    return parse_endpoint(resolved, defaults=fields)


__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "LOCAL_PREFIX",
    "LocalSpec",
    "default_local_specs",
    "is_local_spec",
    "local_endpoints",
    "parse_local_spec",
]
