"""Coverage steering: targets per category are met even when the model drifts to one."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import orjson

from synthfactory import EndpointConfig, ModelStep, Recipe, RunConfig, run_recipe
from synthfactory.ledger import Ledger
from synthfactory.recipe.model import Coverage
from synthfactory.recipe.samplers import choice, randint
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace

SCHEMA = {
    "type": "object",
    "properties": {"category": {"type": "string"}, "text": {"type": "string"}},
    "required": ["category", "text"],
}
TARGETS = {"algebra": 12, "geometry": 12, "probability": 12}


def _answer(category: str) -> str:
    return orjson.dumps({"category": category, "text": f"a problem about {category}"}).decode()


# A model biased towards algebra: asked for geometry or probability, it drifts to algebra
# 7 times in 10 (by the last digit of a nonce in the prompt); asked for algebra, it obliges.
BIASED = [
    (r"topic: (geometry|probability) nonce: \d*[0-6]$", _answer("algebra")),
    (r"topic: geometry", _answer("geometry")),
    (r"topic: probability", _answer("probability")),
    (r"topic: algebra", _answer("algebra")),
]


def _recipe(coverage: Coverage | None) -> Recipe:
    return Recipe(
        name="steered",
        samplers={"topic": choice(list(TARGETS)), "nonce": randint(0, 10**6)},
        steps=(
            ModelStep(
                name="write",
                prompt="Write a problem. topic: {{ topic }} nonce: {{ nonce }}",
                schema=SCHEMA,
                output="problem",
            ),
        ),
        coverage=coverage,
    )


STEERED = _recipe(Coverage("topic", TARGETS, label="problem.category"))
UNSTEERED = _recipe(None)


def _run(recipe: Recipe, ws: Path, server: FakeServer, target: int = 36):
    return asyncio.run(
        run_recipe(
            recipe,
            workspace=ws,
            config=RunConfig(target=target, seed=5, max_in_flight=16),
            endpoints=[EndpointConfig(role="generator", url=server.url)],
        )
    )


def _stored_categories(ws: Path, dataset: str) -> Counter[str]:
    table = LanceStore(Workspace(ws).dataset_uri(dataset)).read()
    return Counter(
        orjson.loads(p)["category"] if isinstance(p, str) else p["category"]
        for p in table.column("problem").to_pylist()
    )


def test_targets_are_met_with_a_model_biased_to_one_category(tmp_path: Path) -> None:
    with FakeServer(FakeServerConfig(scripts=BIASED)) as server:
        # --target is replaced by the sum of the coverage targets.
        summary = _run(STEERED, tmp_path / "ws", server, target=5)
    assert summary.status == "finished", summary.message
    assert summary.target == 36
    assert _stored_categories(tmp_path / "ws", "steered") == Counter(TARGETS)
    coverage = summary.diversity["coverage"]
    assert {c: v["usable"] for c, v in coverage.items()} == TARGETS
    # The drift happened and was turned away rather than stored.
    assert coverage["algebra"]["turned_away"] > 0
    ledger = Ledger(Workspace(tmp_path / "ws").ledger_path)
    try:
        asked = Counter(i.payload["topic"] for i in ledger.items(summary.run_id))
    finally:
        ledger.close()
    # Steering asked for the under-filled categories far more often than for algebra.
    assert asked["geometry"] > 2 * asked["algebra"], asked
    assert asked["probability"] > 2 * asked["algebra"], asked


def test_negative_control_without_steering_the_bias_wins(tmp_path: Path) -> None:
    with FakeServer(FakeServerConfig(scripts=BIASED)) as server:
        summary = _run(UNSTEERED, tmp_path / "ws", server)
    assert summary.status == "finished", summary.message
    counts = _stored_categories(tmp_path / "ws", "steered")
    # Uniform asks + 70% drift: algebra gets about 1/3 + 2/3*0.7 = 80%; the others miss.
    assert counts["algebra"] > 20, counts
    assert counts["geometry"] < TARGETS["geometry"] or counts["probability"] < 12, counts


def test_a_second_run_into_the_dataset_fills_its_own_targets(tmp_path: Path) -> None:
    with FakeServer(FakeServerConfig(scripts=BIASED, latency_s=0.02)) as server:
        first = _run(STEERED, tmp_path / "ws", server)
        assert first.status == "finished"
        # A second run into the same dataset fills its own targets again: 72 rows.
        second = _run(STEERED, tmp_path / "ws", server)
    assert second.status == "finished", second.message
    assert _stored_categories(tmp_path / "ws", "steered") == Counter(
        {c: 2 * n for c, n in TARGETS.items()}
    )


def test_the_quiz_example_fills_every_leaf_of_its_taxonomy(tmp_path: Path) -> None:
    from tests.conftest import cli

    done = cli("run", "quiz", "--workspace", str(tmp_path / "ws"), "--endpoint", "generator=fake")
    assert done.returncode == 0, done.stderr
    assert "coverage" in done.stdout and "dedup unique (minhash on quiz.question)" in done.stdout
    status = cli("status", "--workspace", str(tmp_path / "ws"), "--json")
    (run,) = orjson.loads(status.stdout)
    report = cli("status", run["run_id"], "--workspace", str(tmp_path / "ws"), "--json")
    diversity = orjson.loads(report.stdout)["diversity"]
    assert len(diversity["coverage"]) == 14
    assert all(c["usable"] == c["target"] == 4 for c in diversity["coverage"].values())
    assert 0 < diversity["text"]["distinct_2"] <= 1
    assert sum(diversity["text"]["nn_similarity_histogram"]["counts"]) == 56


def test_status_measures_spread_on_real_embeddings_when_asked(tmp_path: Path) -> None:
    from tests.conftest import cli

    ws = str(tmp_path / "ws")
    with FakeServer(FakeServerConfig()) as server:
        done = cli("run", "quiz", "--workspace", ws, "--endpoint", f"generator={server.url}",
                   "--json")  # fmt: skip
        assert done.returncode == 0, done.stderr
        run_id = orjson.loads(done.stdout)["run_id"]
        lexical = cli("status", run_id, "--workspace", ws, "--json")
        embedded = cli("status", run_id, "--workspace", ws, "--json", "--embedder", server.url)
    assert embedded.returncode == 0, embedded.stderr
    lex = orjson.loads(lexical.stdout)["diversity"]["text"]
    emb = orjson.loads(embedded.stdout)["diversity"]["text"]
    assert lex["vectors"].startswith("lexical")
    assert emb["vectors"] == "embeddings (text-embedding-3-small)"
    assert emb["distinct_2"] == lex["distinct_2"]
    assert emb["dispersion"] != lex["dispersion"]
    assert sum(emb["nn_similarity_histogram"]["counts"]) == 56
