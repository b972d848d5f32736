"""YAML recipes: every mistake is refused with its file, line and field, in one paragraph."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from synthfactory.errors import RecipeError
from synthfactory.recipe.yaml_recipe import load_yaml_recipe

from .yaml_error_cases import LOCATED
from .yaml_support import assert_located, load_error, write


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    message = load_error(path)
    assert message == f"{path}: recipe file not found"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_bytes(b"name: hello\nsteps: []\ndescription: caf\xe9\n")
    message = load_error(path)
    assert_located(message, path, 3, None)
    assert "not UTF-8" in message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("name: hello\nsteps:\n  - name: a: b\n", 3, "mapping values are not allowed"),
        ("name: hello\nsteps:\n\t- name: a\n", 3, "cannot start any token"),
        ("name: hello\nsteps:\n  - {name: a\n", 4, "YAML syntax error"),
        ("name: hello\x07\n", 1, "U+0007"),
        ("name: a\n---\nname: b\n", 2, "single document"),
        ("name: !!python/object:os.system x\n", 1, "unsupported YAML"),
    ],
)
def test_yaml_syntax_errors(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    message = load_error(path)
    assert_located(message, path, line, None)
    assert fragment in message


@pytest.mark.parametrize(("text", "got"), [("- a\n- b\n", "a list"), ("", "null"), ("hi\n", "hi")])
def test_top_level_not_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    message = load_error(path)
    assert_located(message, path, 1, None)
    assert "top level must be a mapping" in message
    assert got in message


def test_duplicate_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        name: a
        steps:
          - name: w
            model: {prompt: hi, prompt: ho}
        name: b
        """,
    )
    message = load_error(path)
    assert_located(message, path, 4, "steps[0].model.prompt")
    assert "duplicate key 'prompt'" in message


# Each case: YAML text, the line and field the error must point at, and words it must say.
@pytest.mark.parametrize(("text", "line", "field", "fragments"), LOCATED.values(), ids=LOCATED)
def test_errors_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    message = load_error(path)
    assert_located(message, path, line, field)
    for fragment in fragments:
        assert fragment in message


def test_module_that_fails_to_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"sf_broken_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, f"name: r\nsteps:\n  - name: p\n    python: {name}:f\n")
    try:
        message = load_error(path)
    finally:
        sys.modules.pop(name, None)
    assert_located(message, path, 4, "steps[0].python")
    assert "raised RuntimeError: boom" in message


def test_module_attribute_not_callable(tmp_path: Path, steps_module: str) -> None:
    path = write(tmp_path, f"name: r\nsteps:\n  - name: p\n    python: {steps_module}:LIMIT\n")
    message = load_error(path)
    assert_located(message, path, 4, "steps[0].python")
    assert "is a int, not a function" in message


@pytest.mark.parametrize(
    ("lines", "bad_line", "fragment"),
    [
        (['{"topic": "a"}', '{"topic": ', '{"topic": "c"}'], 2, "not valid JSON"),
        (['{"topic": "a"}', "", '["not", "an", "object"]'], 3, "expected a JSON object"),
    ],
)
def test_bad_jsonl_seed_line(
    tmp_path: Path, lines: list[str], bad_line: int, fragment: str
) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = write(
        tmp_path,
        """\
        name: r
        seeds: seeds.jsonl
        steps: [{name: w, model: {prompt: hi}}]
        """,
    )
    message = load_error(path)
    assert message.startswith(f"{seeds}, line {bad_line}: {fragment}")
    assert f"{path}, line 2" in message


def test_empty_seeds_file(tmp_path: Path) -> None:
    (tmp_path / "seeds.jsonl").write_text("\n\n", encoding="utf-8")
    path = write(tmp_path, "name: r\nseeds: seeds.jsonl\nsteps: [{name: w, model: {prompt: hi}}]\n")
    message = load_error(path)
    assert_located(message, path, 2, "seeds")
    assert "has no records" in message


def test_several_shape_problems_are_one_paragraph(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        name: 3
        steps:
          - name: w
            model: {prompt: hi, max_attempts: x}
        """,
    )
    message = load_error(path)
    assert_located(message, path, 1, "name")
    assert "also: line 4, steps[0].model.max_attempts: expected a whole number" in message


def test_error_carries_location_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "name: r\nsteps:\n  - name: p\n    python: json:nope\n")
    with pytest.raises(RecipeError) as info:
        load_yaml_recipe(path)
    assert info.value.fields == {"file": str(path), "line": 4, "field": "steps[0].python"}
