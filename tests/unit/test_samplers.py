"""Samplers: seeded, reproducible, and loud about bad definitions."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthfactory.errors import RecipeError
from synthfactory.recipe.model import Coverage, DedupStep, ModelStep, Recipe
from synthfactory.recipe.samplers import Constraint, choice, combine, lognormal, normal, randint
from synthfactory.recipe.seed_data import personas, rows
from synthfactory.recipe.taxonomy import taxonomy
from synthfactory.recipe.yaml_recipe import load_yaml_recipe

TREE = {
    "science": {"physics": ["optics", "mechanics"], "biology": {"genetics": None}},
    "arts": ["painting", "music", "film"],
}


def draws(sampler, n=4000, seed=7):
    rng = random.Random(seed)
    return [sampler(rng) for _ in range(n)]


def test_taxonomy_lists_leaf_paths_and_draws_them_uniformly():
    t = taxonomy(TREE)
    assert t.categories() == (
        "science/physics/optics",
        "science/physics/mechanics",
        "science/biology/genetics",
        "arts/painting",
        "arts/music",
        "arts/film",
    )
    counts = Counter(draws(t, 6000))
    assert set(counts) == set(t.categories())
    # 1000 expected per leaf; 5 sigma of a binomial(6000, 1/6) is about 144.
    assert all(abs(c - 1000) < 150 for c in counts.values()), counts


def test_taxonomy_by_level_favours_shallow_branches_and_weights_bias():
    by_level = Counter(draws(taxonomy(TREE, by="level"), 6000))
    # arts gets half the draws, split three ways; genetics gets a quarter on its own.
    assert abs(by_level["science/biology/genetics"] - 1500) < 200
    assert abs(by_level["arts/music"] - 1000) < 200
    weighted = taxonomy({"a": {"_weight": 9}, "b": None})
    counts = Counter(draws(weighted, 2000))
    assert counts["a"] > 6 * counts["b"]


def test_taxonomy_is_reproducible_and_refuses_bad_trees(tmp_path: Path):
    assert draws(taxonomy(TREE), 50, seed=3) == draws(taxonomy(TREE), 50, seed=3)
    with pytest.raises(ValueError, match="no leaves"):
        taxonomy({})
    with pytest.raises(ValueError, match="separator"):
        taxonomy({"a/b": None})
    with pytest.raises(ValueError, match="holds int"):
        taxonomy({"a": 3})
    f = tmp_path / "t.yaml"
    f.write_text("science:\n  physics: [optics]\narts: [music]\n")
    assert taxonomy(f).categories() == ("science/physics/optics", "arts/music")


def test_normal_and_lognormal_stay_in_bounds_and_round():
    values = draws(normal(100, 40, low=50, high=150, digits=0), 2000)
    assert all(50 <= v <= 150 and v == int(v) for v in values)
    assert 90 < sum(values) / len(values) < 110
    logs = draws(lognormal(0, 1, high=20), 2000)
    assert all(0 <= v <= 20 for v in logs)
    with pytest.raises(ValueError):
        normal(0, -1)
    with pytest.raises(ValueError):
        normal(0, 1, low=2, high=1)


def test_combine_only_draws_records_that_meet_the_constraints():
    combo = combine(
        {"level": choice(["beginner", "expert"]), "topic": choice(["loops", "monads"])},
        where=[Constraint("not (level == 'beginner' and topic == 'monads')")],
    )
    records = draws(combo, 1000)
    pairs = Counter((r["level"], r["topic"]) for r in records)
    assert ("beginner", "monads") not in pairs
    assert len(pairs) == 3
    # Negative control: without the constraint the forbidden pair does come up.
    free = combine({"level": choice(["beginner", "expert"]), "topic": choice(["loops", "monads"])})
    assert any(r == {"level": "beginner", "topic": "monads"} for r in draws(free, 200))


def test_combine_reports_unsatisfiable_constraints_instead_of_looping():
    combo = combine({"n": randint(1, 3)}, where=[lambda r: r["n"] > 5], max_tries=50)
    with pytest.raises(ValueError, match="in 50 draws"):
        combo(random.Random(0))
    with pytest.raises(ValueError, match="syntax"):
        Constraint("level ==")


def test_rows_draw_from_jsonl_parquet_and_lance(tmp_path: Path):
    import lance

    records = [{"q": f"question {i}", "a": i} for i in range(20)]
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    parquet = tmp_path / "s.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet)
    lance_dir = tmp_path / "s.lance"
    lance.write_dataset(pa.Table.from_pylist(records), str(lance_dir))
    for path in (jsonl, parquet, lance_dir):
        sampler = rows(path, fields=["q"])
        got = draws(sampler, 200)
        assert all(set(r) == {"q"} for r in got)
        assert len({r["q"] for r in got}) > 15
        assert draws(sampler, 20, seed=1) == draws(rows(path, fields=["q"]), 20, seed=1)
    assert rows(jsonl).describe() != rows(parquet).describe()
    with pytest.raises(ValueError, match="unknown kind"):
        rows(tmp_path / "s.csv")
    with pytest.raises(ValueError, match="lack field"):
        rows(jsonl, fields=["nope"])(random.Random(0))


def test_seed_data_digest_changes_with_the_data(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"q": 1}\n')
    before = rows(path).describe()
    path.write_text('{"q": 2}\n')
    assert rows(path).describe() != before


def test_personas_inline_and_refusals():
    people = personas([{"name": "Ada", "role": "engineer"}, {"name": "Bo", "role": "nurse"}])
    assert {p["name"] for p in draws(people, 100)} == {"Ada", "Bo"}
    with pytest.raises(ValueError):
        personas([])


def _recipe(**kw):
    return Recipe(
        name="r",
        steps=(ModelStep("write", "Write about {{ topic }}"),),
        samplers={"topic": taxonomy(TREE)},
        **kw,
    )


def test_coverage_targets_expand_over_the_samplers_categories():
    recipe = _recipe(coverage=Coverage("topic", 5))
    assert recipe.targets == dict.fromkeys(taxonomy(TREE).categories(), 5)
    with pytest.raises(RecipeError, match="no sampler"):
        _recipe(coverage=Coverage("nope", 5))
    with pytest.raises(RecipeError, match="whole numbers"):
        _recipe(coverage=Coverage("topic", {"arts/music": -1}))
    # A coverage change is a recipe change.
    assert _recipe(coverage=Coverage("topic", 5)).digest() != _recipe().digest()


def test_dedup_step_is_validated():
    with pytest.raises(RecipeError, match="threshold"):
        _recipe_with(DedupStep("d", "topic", threshold=1.5))
    with pytest.raises(RecipeError, match="unknown dedup method"):
        _recipe_with(DedupStep("d", "topic", method="fuzzy"))  # type: ignore[arg-type]
    semantic = _recipe_with(DedupStep("d", "topic", method="semantic", embedder="emb"))
    assert "emb" in semantic.roles
    assert DedupStep("d", "x").effective_threshold == 0.8


def _recipe_with(step):
    return Recipe(name="r", steps=(ModelStep("write", "Write {{ topic }}"), step),
                  samplers={"topic": choice(["a"])})  # fmt: skip


YAML = """
name: diverse
samplers:
  topic: {taxonomy: {file: tree.yaml}}
  persona: {personas: [{name: Ada}, {name: Bo}]}
  seed: {rows: {path: seeds.jsonl, fields: [q]}}
  length: {normal: {mean: 120, std: 30, low: 40, high: 200, digits: 0}}
  pair:
    combine:
      fields:
        level: {choice: [beginner, expert]}
        kind: {choice: [quiz, essay]}
      where: ["not (level == 'beginner' and kind == 'essay')"]
coverage: {field: topic, targets: 3, label: answer.topic}
steps:
  - name: write
    model: {prompt: "{{ topic }} {{ persona.name }} {{ seed.q }} {{ length }} {{ pair.kind }}"}
  - name: unique
    dedup: {field: answer, method: minhash, threshold: 0.7, shingle: 2, patience: 5}
"""


def test_yaml_recipe_with_every_new_sampler_coverage_and_dedup(tmp_path: Path):
    (tmp_path / "tree.yaml").write_text("a: [x, y]\nb: null\n")
    (tmp_path / "seeds.jsonl").write_text('{"q": "why?", "other": 1}\n')
    (tmp_path / "r.yaml").write_text(YAML)
    recipe = load_yaml_recipe(tmp_path / "r.yaml")
    assert recipe.targets == {"a/x": 3, "a/y": 3, "b": 3}
    assert recipe.coverage is not None and recipe.coverage.label_path == "answer.topic"
    (dedup,) = recipe.dedup_steps
    assert (dedup.method, dedup.effective_threshold, dedup.shingle, dedup.patience) == (
        "minhash", 0.7, 2, 5,
    )  # fmt: skip
    payload = recipe.initial_payload(0, 42)
    assert payload["seed"] == {"q": "why?"}
    assert payload["persona"]["name"] in {"Ada", "Bo"}
    assert payload["pair"] != {"level": "beginner", "kind": "essay"}


@pytest.mark.parametrize(
    ("sampler", "message"),
    [
        ("{normal: {mean: 1}}", "normal takes"),
        ("{taxonomy: 3}", "taxonomy takes"),
        ("{rows: {path: missing.jsonl}}", "not found"),
        ("{combine: {fields: {a: 3}}}", "each combined field"),
        ("{combine: {fields: {a: {choice: [1]}}, where: ['a ==']}}", "syntax"),
        ("{normel: {mean: 1, std: 1}}", "did you mean"),
    ],
)
def test_yaml_sampler_errors_name_the_line(tmp_path: Path, sampler: str, message: str):
    (tmp_path / "r.yaml").write_text(
        f"name: bad\nsamplers:\n  x: {sampler}\nsteps:\n  - name: s\n    model: {{prompt: hi}}\n"
    )
    with pytest.raises(RecipeError, match=message) as err:
        load_yaml_recipe(tmp_path / "r.yaml")
    assert "line 3" in str(err.value)
