"""Fixtures of the fuzz tests: one workspace per test module, made once (hypothesis runs
every example of a test inside one call of it), and checked unchanged after each example."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synthfactory.workspace import Workspace

EXAMPLES = Path(__file__).parents[2] / "src" / "synthfactory" / "examples"


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for the module's generated files, holding copies of the example recipes
    and the data files they name."""
    root = tmp_path_factory.mktemp("fuzz")
    for source in EXAMPLES.glob("*.yaml"):
        shutil.copy(source, root / source.name)
    return root


@pytest.fixture(scope="module")
def fuzz_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, empty workspace: a refused input must leave it exactly as it is."""
    root = tmp_path_factory.mktemp("ws") / "workspace"
    Workspace(root, create=True)
    return root
