"""Parsing ``local:`` endpoint specs and the package's public surface (no server started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthfactory import local
from synthfactory.errors import ConfigError
from synthfactory.local.endpoints import (
    DEFAULT_LOCAL_MODEL,
    default_local_specs,
    is_local_spec,
    local_endpoints,
    parse_local_spec,
)
from synthfactory.local.server import DEFAULT_CTX_SIZE, DEFAULT_PARALLEL, default_threads


def test_is_local_spec() -> None:
    assert is_local_spec("generator=local:qwen2.5-coder-0.5b")
    assert is_local_spec("generator= local:qwen2.5-coder-1.5b,parallel=2")
    assert not is_local_spec("generator=http://127.0.0.1:8000/v1")
    assert not is_local_spec("generator=fake")


def test_parse_local_spec_with_server_and_endpoint_options() -> None:
    spec = parse_local_spec(
        "judge=local:qwen2.5-coder-1.5b,parallel=2,threads=1,ctx=2048,price_hour=0.5"
    )
    assert spec.role == "judge"
    assert spec.model.name == "qwen2.5-coder-1.5b"
    assert (spec.n_parallel, spec.n_threads, spec.ctx_size) == (2, 1, 2048)
    assert spec.options == {"price_hour": "0.5"}
    plain = parse_local_spec("generator=local:qwen2.5-coder-0.5b")
    assert (plain.n_parallel, plain.n_threads, plain.ctx_size) == (
        DEFAULT_PARALLEL,
        None,
        DEFAULT_CTX_SIZE,
    )
    assert plain.server_key() != spec.server_key()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("generator=local:gpt-5", "unknown local model 'gpt-5'"),
        ("generator=local:qwen2.5-coder-0.5b,parallel=0", "parallel must be a positive"),
        ("generator=local:qwen2.5-coder-0.5b,threads=two", "threads must be a positive"),
        ("generator=local:qwen2.5-coder-0.5b,model=other", "drop 'model='"),
        ("generator=local:qwen2.5-coder-0.5b,oops", "bad option 'oops'"),
        ("=local:qwen2.5-coder-0.5b", "expected ROLE=local:MODEL"),
    ],
)
def test_bad_specs_are_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_local_spec(spec)


def test_bad_specs_fail_before_any_work(tmp_path: Path) -> None:
    with (
        pytest.raises(ConfigError),
        local_endpoints(["generator=local:nope"], cache_dir=tmp_path) as _,
    ):
        pass
    assert list(tmp_path.iterdir()) == []


def test_default_local_specs_share_one_model() -> None:
    assert DEFAULT_LOCAL_MODEL == "qwen2.5-coder-0.5b"
    specs = default_local_specs({"judge", "generator"})
    assert specs == ["generator=local:qwen2.5-coder-0.5b", "judge=local:qwen2.5-coder-0.5b"]
    assert len({parse_local_spec(s).server_key() for s in specs}) == 1


def test_default_threads_is_a_sane_count() -> None:
    assert 1 <= default_threads() <= 8


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(local) if not name.startswith("_")}
    modules = {"endpoints", "errors", "server", "weights"}
    assert set(local.__all__) == public - modules
