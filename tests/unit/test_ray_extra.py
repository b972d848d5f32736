"""Without the ``ray`` extra, the Ray executor says how to install it (no Ray needed here)."""

from __future__ import annotations

import sys

import pytest

from synthfactory.errors import MissingDependencyError
from synthfactory.recipe.loader import resolve_recipe
from synthfactory.runtime.ray import RayExecutor


async def test_missing_ray_names_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    _, source = resolve_recipe("hello")
    with pytest.raises(MissingDependencyError, match=r"pip install 'synthfactory\[ray\]'"):
        await RayExecutor().start(source, {})


def test_a_self_sized_verification_pool_uses_every_core_and_keeps_headroom() -> None:
    from synthfactory.runtime.ray import RayConfig, RayExecutor, RayPoolConfig

    pool, most = RayExecutor()._verification_pool({"CPU": 2.0})
    assert (most, pool.num_cpus) == (2, 0.75)  # both cores verify; 0.5 CPU stays free
    pool, most = RayExecutor()._verification_pool({"CPU": 8.0})
    assert most == 8 and most * pool.num_cpus <= 8 - 0.5
    # Sized by the user: left alone (a whole CPU each, within the headroom).
    fixed = RayExecutor(RayConfig(verification=RayPoolConfig(num_cpus=1)))
    pool, most = fixed._verification_pool({"CPU": 2.0})
    assert (most, pool.num_cpus) == (1, 1.0)
