"""The embedding cache: each text reaches the wrapped embedder once, across processes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthfactory.dedup.embedding_cache import CachedEmbedder


class Counting:
    """An embedder that records every text it is asked for (deterministic vectors)."""

    name = "counting"
    dim = 8

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).random(self.dim) for t in texts]
        out = np.asarray(rows, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_each_text_is_embedded_once_and_vectors_come_back_in_order(tmp_path: Path) -> None:
    inner = Counting()
    cache = CachedEmbedder(inner, tmp_path / "e.sqlite")
    first = cache.embed(["a", "b", "a"])
    assert inner.seen == ["a", "b"]  # the repeat inside one call is embedded once
    np.testing.assert_array_equal(first[0], first[2])
    again = cache.embed(["b", "c", "a"])
    assert inner.seen == ["a", "b", "c"]
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    assert (cache.hits, cache.misses) == (3, 3)
    assert cache.embed([]).shape == (0, 8)
    cache.close()


def test_the_cache_outlives_the_process_and_knows_the_vector_length(tmp_path: Path) -> None:
    first = CachedEmbedder(Counting(), tmp_path / "e.sqlite")
    vectors = first.embed(["x", "y"])
    first.close()

    class NoProbe(Counting):
        @property
        def dim(self) -> int:  # an endpoint embedder would send a request to learn this
            raise AssertionError("asked the endpoint for its vector length")

    inner = NoProbe()
    second = CachedEmbedder(inner, tmp_path / "e.sqlite")
    assert second.dim == 8
    np.testing.assert_array_equal(second.embed(["y", "x"]), vectors[::-1])
    assert inner.seen == []
    second.close()


def test_embedders_do_not_share_vectors(tmp_path: Path) -> None:
    a, b = Counting(), Counting()
    b.name = "other"
    for inner in (a, b):
        cache = CachedEmbedder(inner, tmp_path / "e.sqlite")
        cache.embed(["t"])
        cache.close()
    assert a.seen == ["t"] and b.seen == ["t"]  # keyed by embedder name, too
