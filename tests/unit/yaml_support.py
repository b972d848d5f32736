"""Helpers shared by the YAML recipe tests: write a recipe file, load it expecting a located
error, and a throwaway importable module of step functions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from synthfactory.errors import RecipeError
from synthfactory.recipe.yaml_recipe import load_yaml_recipe


def write(directory: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(RecipeError) as info:
        load_yaml_recipe(path)
    message = str(info.value)
    assert "\n" not in message, "a RecipeError is one paragraph"
    assert "Traceback" not in message
    # No raw pydantic dump (the check named pydantic_model may be listed, nothing else).
    assert "pydantic" not in message.lower().replace("pydantic_model", "")
    return message


def assert_located(message: str, path: Path, line: int, field: str | None) -> None:
    prefix = f"{path}, line {line}"
    prefix += f", {field}: " if field else ": "
    assert message.startswith(prefix), f"{message!r} does not start with {prefix!r}"
