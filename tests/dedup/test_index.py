"""``check_add`` semantics, the same for every index: order, batches, keys, seeding."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from synthfactory.dedup import DedupIndex, Duplicate, ExactIndex, MinHashIndex, SemanticIndex
from synthfactory.dedup.index import ForgettingIndex

from .conftest import BagOfWordsEmbedder

TEXT = "the quick brown fox jumps over the lazy dog near the quiet river bank at dawn"
OTHER = "a completely different sentence about compilers, parsers and type systems today"
THIRD = "seven hungry parrots borrowed a rusty lantern from the museum last autumn"


def _exact() -> DedupIndex:
    return ExactIndex()


def _minhash() -> DedupIndex:
    return MinHashIndex(threshold=0.8)


def _semantic() -> DedupIndex:
    return SemanticIndex(BagOfWordsEmbedder(), threshold=0.95)


INDEXES = pytest.mark.parametrize(
    ("make", "method"),
    [(_exact, "exact"), (_minhash, "minhash"), (_semantic, "semantic")],
    ids=["exact", "minhash", "semantic"],
)


@INDEXES
def test_duplicate_within_a_batch_points_to_the_first(
    make: Callable[[], DedupIndex], method: str
) -> None:
    index = make()
    verdicts = index.check_add(
        ["a", "b", "c", "d"], [TEXT, OTHER, TEXT.upper(), "  " + TEXT.replace(" ", "  ")]
    )
    assert verdicts[0] is None and verdicts[1] is None
    for verdict in verdicts[2:]:
        assert isinstance(verdict, Duplicate)
        assert verdict.of == "a" and verdict.method == method
        assert verdict.similarity == pytest.approx(1.0, abs=1e-5)
    assert len(index) == 2  # duplicates are not added


@INDEXES
def test_seeded_index_remembers_earlier_runs(make: Callable[[], DedupIndex], method: str) -> None:
    index = make()
    # Run 1's stored rows seed the index, as the driver does before run 2.
    assert index.check_add(["run1-0", "run1-1"], [TEXT, OTHER]) == [None, None]
    verdicts = index.check_add(["run2-0", "run2-1", "run2-2"], [THIRD, OTHER, THIRD])
    assert verdicts[0] is None
    assert verdicts[1] is not None and verdicts[1].of == "run1-1"
    assert verdicts[2] is not None and verdicts[2].of == "run2-0"
    assert len(index) == 3
    assert index.check_add([], []) == []


@INDEXES
def test_keys_and_texts_must_pair_up(make: Callable[[], DedupIndex], method: str) -> None:
    with pytest.raises(ValueError, match="2 keys but 1 texts"):
        make().check_add(["a", "b"], [TEXT])


def test_exact_is_exact_after_normalization() -> None:
    index = ExactIndex()
    verdicts = index.check_add(["a", "b", "c"], [TEXT, TEXT + " extra", TEXT + "!"])
    assert verdicts == [None, None, None]
    stripping = ExactIndex(strip_punctuation=True)
    assert stripping.check_add(["a", "b"], [TEXT, TEXT + "!"])[1] == Duplicate("a", "exact", 1.0)


def test_minhash_dup_of_a_dropped_item_points_to_the_kept_one() -> None:
    index = MinHashIndex(threshold=0.7)
    words = TEXT.split()
    near = " ".join([*words[:8], "swiftly", *words[8:]])
    verdicts = index.check_add(["keep", "drop", "again"], [TEXT, near, near])
    assert verdicts[0] is None
    assert verdicts[1] is not None and verdicts[1].of == "keep"
    assert 0.7 <= verdicts[1].similarity < 1.0
    # "drop" was never added, so its twin is a duplicate of "keep", not of "drop".
    assert verdicts[2] is not None and verdicts[2].of == "keep"


def test_minhash_is_deterministic_and_seeded() -> None:
    first = MinHashIndex(seed=3).hasher.signatures([TEXT, OTHER])
    again = MinHashIndex(seed=3).hasher.signatures([TEXT, OTHER])
    other = MinHashIndex(seed=4).hasher.signatures([TEXT, OTHER])
    assert (first == again).all()
    assert not (first == other).all()


def test_minhash_many_batches_and_many_runs_agree_with_one_batch() -> None:
    texts = [f"{THIRD} item {i} of the list" for i in range(50)] + [TEXT] * 5
    keys = [str(i) for i in range(len(texts))]
    one = MinHashIndex().check_add(keys, texts)
    index = MinHashIndex()
    many: list[Duplicate | None] = []
    for start in range(0, len(texts), 7):  # many small runs merge the band table runs
        many += index.check_add(keys[start : start + 7], texts[start : start + 7])
    assert one == many


def test_minhash_options_are_checked() -> None:
    with pytest.raises(ValueError, match="threshold"):
        MinHashIndex(threshold=1.01)
    with pytest.raises(ValueError, match="exceed num_perm"):
        MinHashIndex(num_perm=16, bands=(5, 5))


def test_semantic_index_moves_to_lance_past_the_crossover(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    embedder = BagOfWordsEmbedder(dim=64)
    index = SemanticIndex(embedder, threshold=0.95, workdir=tmp_path, lance_from=1500)
    texts = [f"document number {i} about topic {i * 7919 % 10007}" for i in range(3000)]
    keys = [f"k{i}" for i in range(3000)]
    for start in range(0, 3000, 500):
        index.check_add(keys[start : start + 500], texts[start : start + 500])
    assert (tmp_path / "semantic.lance").is_dir()
    verdicts = index.check_add(["late-1", "late-2"], [texts[10], texts[2500]])
    assert [v.of if v else None for v in verdicts] == ["k10", "k2500"]


def test_public_names() -> None:
    from synthfactory import dedup

    assert sorted(dedup.__all__) == sorted(
        ["DedupIndex", "DedupReport", "Duplicate", "Embedder", "ExactIndex", "MinHashIndex",
         "MiniLMEmbedder", "OpenAIEmbedder", "SemanticIndex", "dedup_corpus", "make_index"]
    )  # fmt: skip
    for name in dedup.__all__:
        assert getattr(dedup, name).__doc__, name


def test_band_runs_merge_like_a_stable_sort() -> None:
    import numpy as np

    from synthfactory.dedup.minhash import _merge

    rng = np.random.default_rng(0)
    for _ in range(100):
        old = np.sort(rng.integers(0, 20, size=int(rng.integers(0, 30))).astype(np.uint64))
        new = np.sort(rng.integers(0, 20, size=int(rng.integers(0, 30))).astype(np.uint64))
        old_items = np.arange(len(old), dtype=np.uint32)
        new_items = np.arange(100, 100 + len(new), dtype=np.uint32)
        keys, items = _merge((old, old_items), (new, new_items))
        order = np.argsort(np.concatenate([old, new]), kind="stable")
        assert (keys == np.concatenate([old, new])[order]).all()
        assert (items == np.concatenate([old_items, new_items])[order]).all()


@pytest.mark.parametrize("method", ["exact", "minhash"])
def test_a_forgotten_text_no_longer_blocks_its_duplicates(method: str) -> None:
    index = ExactIndex() if method == "exact" else MinHashIndex(threshold=0.5, shingle=2)
    assert isinstance(index, ForgettingIndex)
    text = "Honeybees communicate the direction of food with a waggle dance."
    assert index.check_add(["a", "b"], ["Octopuses have three hearts.", text]) == [None, None]
    assert index.check_add(["c"], [text])[0] is not None  # negative control: still remembered
    assert index.discard("b") and not index.discard("b") and not index.discard("nope")
    assert len(index) == 1
    assert index.check_add(["d"], [text]) == [None]  # b was forgotten: d is new
    duplicate = index.check_add(["e"], [text])[0]
    assert duplicate is not None and duplicate.of == "d"  # and d is remembered in its place
    assert index.check_add(["f"], ["Octopuses have three hearts."])[0] is not None
