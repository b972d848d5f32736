"""YAML recipes: a valid file builds the same Recipe as Python; every mistake is located."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthfactory.errors import RecipeError
from synthfactory.recipe import yaml_recipe
from synthfactory.recipe.model import (
    Dataset,
    JudgeStep,
    ModelStep,
    PythonStep,
    Recipe,
    VerificationPolicy,
    VerifyStep,
)
from synthfactory.recipe.samplers import Choice, RandInt, Uniform, Weighted, choice, weighted
from synthfactory.recipe.yaml_recipe import load_yaml_recipe
from synthfactory.verdict import Verdict
from synthfactory.verify.checks import CHECKS


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


@pytest.fixture
def steps_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable module with a python step and a verifier, removed afterwards."""
    name = f"sf_test_steps_{uuid.uuid4().hex}"
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from synthfactory.verdict import Verdict

            LIMIT = 3

            def tidy(payload):
                return {"fact": {"text": payload["fact"]["text"].strip()}}

            def judge(payload):
                return Verdict.ok("fine", tier="expensive")
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(code_dir))
    yield name
    sys.modules.pop(name, None)


FULL = """\
    name: hello
    version: 2
    description: Facts about nature.
    seeds:
      - {topic: volcanoes}
      - {topic: tides}
    samplers:
      style: {choice: [plain, fun]}
      level: {weighted: {easy: 3, hard: 1}}
      n: {randint: [1, 5]}
      t: {uniform: [0.2, 0.9]}
    steps:
      - name: write
        model:
          role: writer
          prompt: "Write one {{ style }} fact about {{ topic }}."
          system: "You are terse."
          schema: {type: object, properties: {text: {type: string}}, required: [text]}
          params: {temperature: 0.7, max_tokens: 200}
          max_attempts: 2
        output: fact
      - name: tidy
        python: MODULE:tidy
      - name: check
        verify: {check: length, field: fact.text, min: 1, max: 400}
      - name: judge
        verify: {python: "MODULE:judge"}
        tier: expensive
    dataset:
      name: facts
      fields: [topic, fact]
"""


def test_public_names() -> None:
    assert yaml_recipe.__all__ == ["load_yaml_recipe"]


def test_full_recipe_builds(tmp_path: Path, steps_module: str) -> None:
    recipe = load_yaml_recipe(write(tmp_path, FULL.replace("MODULE", steps_module)))

    assert recipe.name == "hello"
    assert recipe.version == "2"
    assert recipe.description == "Facts about nature."
    assert recipe.seeds == ({"topic": "volcanoes"}, {"topic": "tides"})
    assert recipe.samplers == {
        "style": Choice(("plain", "fun")),
        "level": Weighted((("easy", 3), ("hard", 1))),
        "n": RandInt(1, 5),
        "t": Uniform(0.2, 0.9),
    }
    assert recipe.dataset == Dataset("facts", ("topic", "fact"))
    assert [s.name for s in recipe.steps] == ["write", "tidy", "check", "judge"]

    write_step = recipe.step("write")
    assert write_step == ModelStep(
        name="write",
        prompt="Write one {{ style }} fact about {{ topic }}.",
        role="writer",
        system="You are terse.",
        schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        output="fact",
        params={"temperature": 0.7, "max_tokens": 200},
        max_attempts=2,
    )
    assert recipe.roles == frozenset({"writer"})

    tidy = recipe.step("tidy")
    assert isinstance(tidy, PythonStep)
    assert tidy.fn({"fact": {"text": "  hot  "}}) == {"fact": {"text": "hot"}}

    check = recipe.step("check")
    assert isinstance(check, VerifyStep)
    assert check.tier == "cheap"
    assert check.fn({"fact": {"text": "Lava is hot."}}) == Verdict.ok()
    failed = check.fn({"fact": {"text": ""}})
    assert isinstance(failed, Verdict)
    assert failed.status == "fail"
    assert "below the minimum 1" in failed.reason

    judge = recipe.step("judge")
    assert isinstance(judge, VerifyStep)
    assert judge.tier == "expensive"
    assert judge.fn({}) == Verdict.ok("fine", tier="expensive")


def test_initial_payload_is_deterministic(tmp_path: Path, steps_module: str) -> None:
    path = write(tmp_path, FULL.replace("MODULE", steps_module))
    first, second = load_yaml_recipe(path), load_yaml_recipe(path)
    payloads = [first.initial_payload(i, 1000 + i) for i in range(20)]
    assert payloads == [second.initial_payload(i, 1000 + i) for i in range(20)]
    assert payloads[0]["topic"] == "volcanoes"
    assert payloads[1]["topic"] == "tides"
    for payload in payloads:
        assert payload["style"] in {"plain", "fun"}
        assert payload["level"] in {"easy", "hard"}
        assert 1 <= payload["n"] <= 5
        assert 0.2 <= payload["t"] <= 0.9
    # negative control: another seed draws differently somewhere
    assert payloads != [first.initial_payload(i, 7 + i) for i in range(20)]
    assert first.digest() == second.digest()


MODEL_ONLY = """\
    name: facts
    version: "3"
    seeds:
      - {topic: volcanoes}
    samplers:
      style: {choice: [plain, fun]}
      level: {weighted: {easy: 3, hard: 1}}
    steps:
      - name: write
        model:
          prompt: "Write one {{ style }} fact about {{ topic }}."
          schema: {type: object, properties: {text: {type: string}}}
          params: {temperature: 0.5}
    dataset:
      name: facts
      fields: [topic, write]
"""


def python_equivalent(prompt: str = "Write one {{ style }} fact about {{ topic }}.") -> Recipe:
    return Recipe(
        name="facts",
        version="3",
        seeds=({"topic": "volcanoes"},),
        samplers={"style": choice(["plain", "fun"]), "level": weighted({"easy": 3, "hard": 1})},
        steps=(
            ModelStep(
                name="write",
                prompt=prompt,
                schema={"type": "object", "properties": {"text": {"type": "string"}}},
                params={"temperature": 0.5},
            ),
        ),
        dataset=Dataset("facts", ("topic", "write")),
    )


def test_yaml_and_python_recipes_have_the_same_digest(tmp_path: Path) -> None:
    from_yaml = load_yaml_recipe(write(tmp_path, MODEL_ONLY))
    assert from_yaml.digest() == python_equivalent().digest()
    assert from_yaml.initial_payload(4, 99) == python_equivalent().initial_payload(4, 99)
    # negative control: a different prompt is a different recipe
    assert from_yaml.digest() != python_equivalent(prompt="Another {{ topic }}").digest()


def test_check_options_change_the_digest(tmp_path: Path) -> None:
    text = """\
        name: r
        steps:
          - name: check
            verify: {check: length, field: a, max: MAX}
    """
    a = load_yaml_recipe(write(tmp_path, text.replace("MAX", "400"), "a.yaml"))
    b = load_yaml_recipe(write(tmp_path, text.replace("MAX", "300"), "b.yaml"))
    c = load_yaml_recipe(write(tmp_path, text.replace("MAX", "400"), "c.yaml"))
    assert a.digest() != b.digest()
    assert a.digest() == c.digest()


def test_seeds_from_jsonl_relative_to_the_recipe(tmp_path: Path) -> None:
    sub = tmp_path / "recipes"
    sub.mkdir()
    (sub / "seeds.jsonl").write_text(
        '{"topic": "volcanoes"}\n\n{"topic": "tides", "n": 2}\n', encoding="utf-8"
    )
    path = write(
        sub,
        """\
        name: r
        seeds: seeds.jsonl
        steps:
          - name: w
            model: {prompt: "{{ topic }}"}
        """,
    )
    recipe = load_yaml_recipe(path)
    assert recipe.seeds == ({"topic": "volcanoes"}, {"topic": "tides", "n": 2})
    assert recipe.initial_payload(1, 0) == {"topic": "tides", "n": 2}


def test_defaults(tmp_path: Path) -> None:
    recipe = load_yaml_recipe(
        write(
            tmp_path,
            """\
            name: r
            steps:
              - name: w
                model: {prompt: hi}
              - name: v
                verify: {check: nonempty, field: w}
            """,
        )
    )
    step = recipe.step("w")
    assert isinstance(step, ModelStep)
    assert (step.role, step.output_field, step.max_attempts, step.schema) == (
        "generator",
        "w",
        3,
        None,
    )
    verify = recipe.step("v")
    assert isinstance(verify, VerifyStep)
    assert verify.tier == "cheap"
    assert (recipe.version, recipe.description, recipe.dataset, recipe.seeds) == ("1", "", None, ())


def test_dataset_name_defaults_to_recipe_name(tmp_path: Path) -> None:
    recipe = load_yaml_recipe(
        write(
            tmp_path,
            """\
            name: r
            steps: [{name: w, model: {prompt: hi}}]
            dataset: {fields: [w]}
            """,
        )
    )
    assert recipe.dataset == Dataset("r", ("w",))


# --- errors: file, line, field -------------------------------------------------------------


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
LOCATED = {
    "missing top-level field": (
        """\
        steps:
          - name: w
            model: {prompt: hi}
        """,
        1,
        "name",
        ["missing required field 'name'"],
    ),
    "missing nested field": (
        """\
        name: r
        steps:
          - name: w
            model:
              role: writer
        """,
        4,
        "steps[0].model.prompt",
        ["missing required field 'prompt'"],
    ),
    "unknown top-level field": (
        """\
        name: r
        stpes:
          - name: w
            model: {prompt: hi}
        """,
        2,
        "stpes",
        ["unknown field 'stpes'", "did you mean 'steps'?", "missing required field 'steps'"],
    ),
    "unknown nested field": (
        """\
        name: r
        steps:
          - name: w
            model:
              prompt: hi
              temperature: 0.2
        """,
        6,
        "steps[0].model.temperature",
        ["unknown field 'temperature'", "allowed fields: prompt, role, system, schema"],
    ),
    "wrong type": (
        """\
        name: r
        steps:
          - name: w
            model:
              prompt: hi
              max_attempts: three
        """,
        6,
        "steps[0].model.max_attempts",
        ["expected a whole number", "'three'"],
    ),
    "steps not a list": (
        """\
        name: r
        steps:
          name: w
        """,
        2,
        "steps",
        ["expected a list"],
    ),
    "empty steps": (
        """\
        name: r
        steps: []
        """,
        2,
        "steps",
        ["at least 1 item"],
    ),
    "max_attempts below one": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi, max_attempts: 0}
        """,
        4,
        "steps[0].model.max_attempts",
        ["greater than or equal to 1"],
    ),
    "step with no kind": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi}
          - name: nothing
        """,
        5,
        "steps[1]",
        [
            "exactly one of 'model', 'python', 'verify', 'judge', 'sandbox' or 'dedup'",
            "none of them",
        ],
    ),
    "step with two kinds": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi}
            python: json:dumps
        """,
        3,
        "steps[0]",
        ["exactly one of", "both 'model' and 'python'"],
    ),
    "output on a python step": (
        """\
        name: r
        steps:
          - name: w
            python: json:dumps
            output: x
        """,
        3,
        "steps[0]",
        ["'output' applies only to model steps"],
    ),
    "unknown sampling parameter": (
        """\
        name: r
        steps:
          - name: w
            model:
              prompt: hi
              params:
                temprature: 0.7
        """,
        7,
        "steps[0].model.params.temprature",
        ["unknown sampling parameter 'temprature'", "did you mean 'temperature'?", "top_p"],
    ),
    "unknown sampler kind": (
        """\
        name: r
        samplers:
          topic: {choise: [a, b]}
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "samplers.topic.choise",
        ["unknown sampler kind 'choise'", "did you mean 'choice'?", "randint"],
    ),
    "sampler with two kinds": (
        """\
        name: r
        samplers:
          topic:
            choice: [a]
            uniform: [0, 1]
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "samplers.topic",
        ["exactly one of choice, weighted, randint, uniform"],
    ),
    "bad sampler arguments": (
        """\
        name: r
        samplers:
          n: {randint: [5, 1]}
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "samplers.n.randint",
        ["low is above high"],
    ),
    "sampler arguments of the wrong type": (
        """\
        name: r
        samplers:
          n:
            randint: [1, 2.5]
        steps: [{name: w, model: {prompt: hi}}]
        """,
        4,
        "samplers.n.randint",
        ["two whole numbers"],
    ),
    "empty choice": (
        """\
        name: r
        samplers:
          n:
            choice: []
        steps: [{name: w, model: {prompt: hi}}]
        """,
        4,
        "samplers.n.choice",
        ["at least one value"],
    ),
    "unknown check": (
        """\
        name: r
        steps:
          - name: v
            verify:
              check: lenght
              field: a
        """,
        5,
        "steps[0].verify.check",
        ["unknown check 'lenght'", "did you mean 'length'?", *sorted(CHECKS)],
    ),
    "unknown check option": (
        """\
        name: r
        steps:
          - name: v
            verify:
              check: length
              field: a
              mn: 1
        """,
        7,
        "steps[0].verify.mn",
        ["check 'length': unknown option 'mn'", "allowed options: field, min, max"],
    ),
    "bad regex in a check": (
        """\
        name: r
        steps:
          - name: v
            verify:
              check: regex
              field: a
              pattern: "(unclosed"
        """,
        7,
        "steps[0].verify.pattern",
        ["invalid pattern"],
    ),
    "verify with neither check nor python": (
        """\
        name: r
        steps:
          - name: v
            verify: {field: a}
        """,
        4,
        "steps[0].verify",
        ["needs 'check'", "python: module:function"],
    ),
    "module not importable": (
        """\
        name: r
        steps:
          - name: p
            python: no_such_module_sf_xyz:tidy
        """,
        4,
        "steps[0].python",
        ["cannot import module 'no_such_module_sf_xyz'"],
    ),
    "attribute missing": (
        """\
        name: r
        steps:
          - name: p
            python: json:no_such_function
        """,
        4,
        "steps[0].python",
        ["module 'json' has no attribute 'no_such_function'"],
    ),
    "not callable": (
        """\
        name: r
        steps:
          - name: p
            verify: {python: "math:pi"}
        """,
        4,
        "steps[0].verify.python",
        ["'math:pi' is a float, not a function"],
    ),
    "malformed reference": (
        """\
        name: r
        steps:
          - name: p
            python: json.dumps
        """,
        4,
        "steps[0].python",
        ["is not a 'module:function' reference"],
    ),
    "jinja syntax error": (
        """\
        name: r
        steps:
          - name: w
            model:
              system: fine
              prompt: "Tell me about {{ topic "
        """,
        6,
        "steps[0].model.prompt",
        ["template syntax error"],
    ),
    "invalid json schema": (
        """\
        name: r
        steps:
          - name: w
            model:
              prompt: hi
              schema:
                type: object
                properties:
                  text:
                    type: strng
        """,
        10,
        "steps[0].model.schema.properties.text.type",
        ["invalid JSON schema", "'strng'"],
    ),
    "duplicate step names": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi}
          - name: w
            python: json:dumps
        """,
        5,
        "steps[1].name",
        ["two steps are called 'w'", "first is on line 3"],
    ),
    "seeds of the wrong type": (
        """\
        name: r
        seeds: 3
        steps: [{name: w, model: {prompt: hi}}]
        """,
        2,
        "seeds",
        ["list of mappings or the path of a .jsonl file"],
    ),
    "a seed that is not a mapping": (
        """\
        name: r
        seeds:
          - {topic: a}
          - just text
        steps: [{name: w, model: {prompt: hi}}]
        """,
        4,
        "seeds[1]",
        ["each seed must be a mapping"],
    ),
    "seeds file missing": (
        """\
        name: r
        description: d
        seeds: missing-seeds.jsonl
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "seeds",
        ["missing-seeds.jsonl", "not found"],
    ),
    "bad recipe name": (
        """\
        description: d
        name: "hello world"
        steps: [{name: w, model: {prompt: hi}}]
        """,
        2,
        "name",
        ["a recipe name must be"],
    ),
    "check option that is not a string": (
        """\
        name: r
        steps:
          - name: v
            verify:
              check: nonempty
              field: a
              1: x
        """,
        7,
        "steps[0].verify[1]",
        ["keys must be strings", "int 1"],
    ),
    "sampler key that is not a string": (
        """\
        name: r
        samplers:
          7: {choice: [a]}
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "samplers[7]",
        ["keys must be strings", "int 7"],
    ),
    "tier on a model step": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi}
            tier: cheap
        """,
        3,
        "steps[0]",
        ["'tier' applies only to verify, judge, sandbox and dedup steps"],
    ),
    "verify python with extra options": (
        """\
        name: r
        steps:
          - name: v
            verify:
              python: json:dumps
              field: a
        """,
        6,
        "steps[0].verify.field",
        ["takes no other options"],
    ),
    "int version is fine but a float is not": (
        """\
        name: r
        version: 1.5
        steps: [{name: w, model: {prompt: hi}}]
        """,
        2,
        "version",
        ["expected a string", "1.5"],
    ),
}


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


def test_judge_step_and_policy(tmp_path: Path) -> None:
    path = tmp_path / "judged.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: judged
            policy: {sample_rate: 0.25, critical_field: important}
            steps:
              - name: ask
                model: {prompt: "hi {{ x }}"}
              - name: grade
                judge:
                  rubric: "Rate this: {{ ask }}"
                  threshold: 8
                  uncertain_margin: 1
                  params: {temperature: 0}
            """
        )
    )
    recipe = load_yaml_recipe(path)
    judge = recipe.steps[1]
    assert isinstance(judge, JudgeStep)
    assert (judge.threshold, judge.uncertain_margin, judge.role, judge.tier) == (
        8,
        1,
        "judge",
        "judge",
    )
    assert dict(judge.params) == {"temperature": 0}
    assert recipe.policy == VerificationPolicy(sample_rate=0.25, critical_field="important")
    assert recipe.roles == {"generator", "judge"}
    path.write_text(path.read_text().replace("threshold: 8", "threshold: 11"))
    assert "steps[1].judge.threshold" in load_error(path)


def test_a_model_step_can_parse_free_text_instead_of_asking_for_a_schema(tmp_path: Path) -> None:
    from synthfactory.recipe.parsers import python_code

    with_parser = MODEL_ONLY.replace(
        "schema: {type: object, properties: {text: {type: string}}}",
        "parse: synthfactory.recipe.parsers:python_code",
    )
    step = load_yaml_recipe(write(tmp_path, with_parser)).step("write")
    assert isinstance(step, ModelStep) and step.parse is python_code and step.schema is None
    # The parser is part of what the recipe is: another parser is another digest.
    assert step.describe()["parse"] == "synthfactory.recipe.parsers:python_code"
    both = MODEL_ONLY.replace(
        "params: {temperature: 0.5}",
        "params: {temperature: 0.5}\n          parse: synthfactory.recipe.parsers:python_code",
    )
    path = write(tmp_path, both, "both.yaml")
    assert "give a schema or a parse function, not both" in load_error(path)
