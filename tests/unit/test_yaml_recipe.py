"""YAML recipes: a valid file builds the same Recipe as Python (its errors: test_yaml_errors)."""

from __future__ import annotations

import textwrap
from pathlib import Path

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

from .yaml_support import load_error, write

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
