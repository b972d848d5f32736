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
