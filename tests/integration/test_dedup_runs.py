"""Dedup as a pipeline step: against everything stored, across runs, and never a loop."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from synthfactory import EndpointConfig, ModelStep, Recipe, RunConfig, run_recipe
from synthfactory.ledger import Ledger
from synthfactory.provenance import ProvenanceRecord
from synthfactory.recipe.model import Coverage, DedupStep
from synthfactory.recipe.samplers import choice, randint
from synthfactory.runtime.audit import open_workspace_log
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.verdict import Verdict
from synthfactory.workspace import Workspace

# A model with three ideas in all, picked by the nonce's last digit. The near variants
# differ by a word or two, which exact dedup misses and MinHash catches.
FEW = [
    (r"nonce: \d*[0-2]$", "Honeybees communicate the direction of food with a waggle dance."),
    (r"nonce: \d*[3-5]$", "Octopuses have three hearts and blue blood in their bodies."),
    (r"nonce: \d*[6-9]$", "Lightning is hotter than the surface of the sun by far."),
]
NEAR = [
    (r"nonce: \d*[0-2]$", "Honeybees communicate the direction of food with a waggle dance."),
    (
        r"nonce: \d*[3-5]$",
        "Honeybees communicate the direction of food with a waggle dance, really.",
    ),
    (
        r"nonce: \d*[6-9]$",
        "Honeybees communicate the direction of food with a little waggle dance.",
    ),
]
# Word-bigram Jaccard between any two NEAR variants is 0.67 to 0.9 (8 or 9 shared bigrams of
# 10 to 12), all above the 0.5 threshold, so near dedup keeps exactly one of them.


def _recipe(
    method: str, *, patience: int = 12, coverage: Coverage | None = None, threshold: float = 0.5
) -> Recipe:
    return Recipe(
        name=f"facts_{method}",
        samplers={"nonce": randint(0, 10**6), "topic": choice(["bees", "ink"])},
        steps=(
            ModelStep(
                name="write", prompt="A fact about {{ topic }}. nonce: {{ nonce }}", output="fact"
            ),
            DedupStep(
                name="unique",
                field="fact",
                method=method,
                threshold=threshold,
                shingle=2,
                patience=patience,
                embedder="embedder",
            ),
        ),
        coverage=coverage,
    )


EXACT, MINHASH, SEMANTIC = _recipe("exact"), _recipe("minhash"), _recipe("semantic")
# The fake's answers "fake answer <hash>" share 2 of 3 words (cosine 0.67): distinct at 0.95.
STRICT_SEMANTIC = _recipe("semantic", threshold=0.95)
STEERED = _recipe("exact", patience=8, coverage=Coverage("topic", {"bees": 6, "ink": 6}))


def _run(recipe: Recipe, ws: Path, server: FakeServer, *, target: int = 40, seed: int = 3):
    return asyncio.run(
        run_recipe(
            recipe,
            workspace=ws,
            config=RunConfig(target=target, seed=seed, max_in_flight=8),
            endpoints=[
                EndpointConfig(role=role, url=server.url, model="fake-model")
                for role in sorted(recipe.roles)
            ],
        )
    )


def _facts(ws: Path, dataset: str) -> list[str]:
    return LanceStore(Workspace(ws).dataset_uri(dataset)).read().column("fact").to_pylist()


@pytest.mark.parametrize(
    ("recipe", "scripts", "kept"),
    [(EXACT, FEW, 3), (MINHASH, FEW, 3), (MINHASH, NEAR, 1)],
    ids=["exact", "minhash", "minhash-near"],
)
def test_a_model_out_of_ideas_stops_with_a_clear_message(
    tmp_path: Path, recipe: Recipe, scripts, kept: int
) -> None:
    with FakeServer(FakeServerConfig(scripts=scripts)) as server:
        summary = _run(recipe, tmp_path / "ws", server)
    assert summary.status == "exhausted"
    assert "keeps repeating itself" in summary.message
    assert "last 12 items" in summary.message
    facts = _facts(tmp_path / "ws", recipe.name)
    assert len(facts) == kept == len(set(facts))
    # Bounded: the patience, plus what was in flight when admission stopped.
    assert summary.generated <= kept + 12 + 8 + 8
    dedup = summary.diversity["dedup"]["unique"]
    assert dedup["dropped"] == summary.generated - kept


def test_exact_dedup_misses_the_near_variants_that_minhash_catches(tmp_path: Path) -> None:
    # Negative control for the row above: exact dedup keeps all three near variants.
    with FakeServer(FakeServerConfig(scripts=NEAR)) as server:
        summary = _run(EXACT, tmp_path / "ws", server, target=3)
    assert summary.status == "finished", summary.message
    assert len(set(_facts(tmp_path / "ws", EXACT.name))) == 3


def test_duplicates_of_earlier_runs_are_dropped_and_name_the_stored_item(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig()) as server:
        first = _run(EXACT, ws, server, target=20)
        assert first.status == "finished", first.message
        # Same seed: the same 20 prompts, the same answers (all from the cache).
        second = _run(EXACT, ws, server, target=20)
    assert second.status == "exhausted"
    assert second.model_calls == 0
    facts = _facts(ws, EXACT.name)
    assert len(facts) == 20 == len(set(facts))
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        first_ids = {i.item_id for i in ledger.items(first.run_id)}
        by_fact = {i.payload["fact"]: i.item_id for i in ledger.items(first.run_id)}
        dropped = ledger.items(second.run_id, ["rejected"])
    finally:
        ledger.close()
    assert dropped
    for item in dropped:
        (verdict,) = [v for v in item.verdicts if v["step"] == "unique"]
        assert verdict["details"]["duplicate_of"] in first_ids
        assert verdict["details"]["duplicate_of"] == by_fact[item.payload["fact"]]
    # The audit log says the same: each dropped item's decision names what it repeated.
    log = open_workspace_log(Workspace(ws))
    try:
        for item in dropped:
            record = _decision(log, item.item_id)
            assert record.dedup is not None and record.dedup.decision == "duplicate"
            assert record.dedup.duplicate_of in first_ids
        for item_id in first_ids:
            record = _decision(log, item_id)
            assert record.dedup is not None and record.dedup.decision == "unique"
    finally:
        log.close()


def _decision(log, item_id: str) -> ProvenanceRecord:
    (record,) = [r for _, r in log.records_for(item_id) if r.step == "decision"]
    return record


def test_a_category_out_of_ideas_stops_while_the_others_fill(tmp_path: Path) -> None:
    # Asked about ink, the model always says the same thing; about bees, something new.
    scripts = [(r"about ink\.", "Squid ink was once used for writing.")]
    with FakeServer(FakeServerConfig(scripts=scripts)) as server:
        summary = _run(STEERED, tmp_path / "ws", server)
    assert summary.status == "exhausted"
    assert "category 'ink' stopped at 1 of 6" in summary.message
    coverage = summary.diversity["coverage"]
    assert coverage["bees"]["usable"] == 6 and coverage["ink"]["usable"] == 1
    facts = _facts(tmp_path / "ws", STEERED.name)
    assert len(facts) == 7 == len(set(facts))
    ledger = Ledger(Workspace(tmp_path / "ws").ledger_path)
    try:
        asked = Counter(i.payload["topic"] for i in ledger.items(summary.run_id))
    finally:
        ledger.close()
    assert asked["ink"] <= 1 + 8 + 8  # its patience plus what was in flight


def test_semantic_dedup_runs_through_an_embeddings_endpoint(tmp_path: Path) -> None:
    with FakeServer(FakeServerConfig(scripts=NEAR)) as server:
        summary = _run(SEMANTIC, tmp_path / "ws", server)
    assert summary.status == "exhausted", summary.message
    # The fake embeds bags of words: the three variants are near one another (cos > 0.5).
    assert len(_facts(tmp_path / "ws", SEMANTIC.name)) == 1
    assert summary.diversity["dedup"]["unique"]["method"] == "semantic"
    ledger = Ledger(Workspace(tmp_path / "ws").ledger_path)
    try:
        similarities = [
            v["details"]["similarity"]
            for i in ledger.items(summary.run_id, ["rejected"])
            for v in i.verdicts
            if v["step"] == "unique"
        ]
    finally:
        ledger.close()
    # Near, not only identical, texts were dropped, each by its cosine similarity.
    assert any(0.5 <= s < 0.999 for s in similarities), similarities


def test_semantic_dedup_embeds_each_text_once_across_runs(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig()) as server:
        first = _run(STRICT_SEMANTIC, ws, server, target=20)
        after_first = server.stats().embedded_texts
        # Same seed, same answers from the cache: the second run seeds its index with the
        # 20 stored rows and checks 20+ repeats of them, all embeddings from the workspace.
        second = _run(STRICT_SEMANTIC, ws, server, target=20)
        after_second = server.stats().embedded_texts
    assert first.status == "finished", first.message
    assert after_first <= 20 + 1  # each answer once, and one probe for the vector length
    assert second.status == "exhausted"  # every item repeats a stored one
    assert after_second == after_first  # nothing embedded twice


def one_nonce_in_four(item: dict) -> Verdict:
    """Rejects three answers in four (by the nonce), so tasks see rejections before a pass."""
    return Verdict.ok() if item["nonce"] % 4 == 0 else Verdict.reject("nonce not a multiple of 4")


def test_a_rejected_item_does_not_block_its_content_from_being_made_again(tmp_path: Path) -> None:
    """A pre-generation gate on the task: the first answer to each task is rejected by a
    later verifier, so the task must be free again for another item, which is stored."""
    from synthfactory.recipe.model import VerifyStep

    recipe = Recipe(
        name="tasks_once",
        samplers={"task": choice(["a", "b", "c"]), "nonce": randint(0, 10**6)},
        steps=(
            DedupStep(name="new_task", field="task", method="exact", patience=200),
            ModelStep(name="write", prompt="Task {{ task }}. nonce: {{ nonce }}", output="fact"),
            VerifyStep(name="odd", fn=one_nonce_in_four),
        ),
    )
    with FakeServer(FakeServerConfig()) as server:
        summary = _run(recipe, tmp_path / "ws", server, target=3)
    assert summary.status == "finished", summary.message
    rows = LanceStore(Workspace(tmp_path / "ws").dataset_uri("tasks_once")).read().to_pylist()
    assert sorted(r["task"] for r in rows) == ["a", "b", "c"]  # one per task, all three
    ledger = Ledger(Workspace(tmp_path / "ws").ledger_path)
    try:
        items = ledger.items(summary.run_id)
    finally:
        ledger.close()
    rejected_by_check = [
        i for i in items if i.state == "rejected" and i.verdicts[-1]["step"] == "odd"
    ]
    retried = {i.payload["task"] for i in rejected_by_check} & {r["task"] for r in rows}
    # Negative control: without forgetting, a task rejected once could never be stored.
    assert retried, "no task was rejected and then stored: the test proves nothing"
