"""Endpoint configuration: where a role's model calls go, how fast, and at what price.

Parsed once at the edge (CLI, config loader). API keys are read from the environment there
and kept in a :class:`pydantic.SecretStr`, which never prints and is excluded from
:meth:`EndpointConfig.public_dict`, the only form that is ever persisted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from synthfactory.errors import ConfigError


class EndpointConfig(BaseModel):
    """One OpenAI-compatible endpoint serving one role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str
    url: str
    model: str | None = None
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    api_key_env: str | None = None
    price_in: float = Field(default=0.0, ge=0, description="USD per million prompt tokens")
    price_out: float = Field(default=0.0, ge=0, description="USD per million completion tokens")
    price_hour: float = Field(
        default=0.0, ge=0, description="USD per hour, for self-hosted servers"
    )
    concurrency: int = Field(default=64, ge=1, le=4096)
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=6, ge=0)
    max_retry_after_s: float = Field(
        default=60.0,
        gt=0,
        description="the longest Retry-After (or x-ratelimit reset) honoured; a longer one "
        "counts as a failed try of that request, retried after the usual backoff",
    )
    fail_fast: bool = False
    down_after_failures: int = Field(default=10, ge=1)
    down_after_s: float = Field(default=5.0, ge=0)
    license: str | None = Field(
        default=None, description="license or terms of the served model, for provenance"
    )
    origin: str | None = Field(
        default=None,
        description="what the user named when it was not a URL (local:MODEL, fake), "
        "so resume can bring the same kind of endpoint up again",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    def public_dict(self) -> dict[str, Any]:
        """Everything but the key: safe for the ledger, logs and provenance."""
        return self.model_dump(exclude={"api_key"})

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Token cost of one call in USD (hourly prices are accounted per run, not per call)."""
        return (prompt_tokens * self.price_in + completion_tokens * self.price_out) / 1e6


_ALIASES = {"key_env": "api_key_env", "timeout": "timeout_s"}


def parse_endpoint(spec: str, *, defaults: Mapping[str, Any] | None = None) -> EndpointConfig:
    """Parse ``ROLE=URL[,key=value...]``, e.g. ``generator=http://127.0.0.1:8000/v1,model=qwen``.

    Known keys are the fields of :class:`EndpointConfig` (``key_env`` names the environment
    variable holding the API key; it is read by the caller, at the edge).
    """
    role, sep, rest = spec.partition("=")
    role = role.strip()
    if not sep or not role or not rest:
        raise ConfigError(
            f"--endpoint {spec!r}: expected ROLE=URL[,key=value...], "
            "e.g. generator=http://127.0.0.1:8000/v1,model=my-model"
        )
    url, *options = rest.split(",")
    fields: dict[str, Any] = dict(defaults or {})
    fields.update({"role": role, "url": url.strip()})
    for option in options:
        key, eq, value = option.partition("=")
        key = _ALIASES.get(key.strip(), key.strip())
        if not eq or key in ("role", "url", "api_key"):
            raise ConfigError(f"--endpoint {spec!r}: bad option {option!r} (use key=value)")
        fields[key] = value.strip()
    try:
        return EndpointConfig(**fields)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"--endpoint {spec!r}: {problems}") from None
