"""Diversity measures."""

from __future__ import annotations

import numpy as np
import pytest

from synthfactory.dedup.diversity import distinct_n, embedding_dispersion, nn_similarity_histogram


def test_distinct_n() -> None:
    assert distinct_n(["a b c", "a b d"], 1) == pytest.approx(4 / 6)
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["Same text.", "same TEXT"], 2) == 0.5  # normalized before counting
    assert distinct_n(["one"], 2) == 0.0
    with pytest.raises(ValueError, match="n must be"):
        distinct_n(["x"], 0)


def test_embedding_dispersion_exact_and_sampled() -> None:
    assert embedding_dispersion(np.eye(3)) == pytest.approx(1.0)  # orthogonal: distance 1
    assert embedding_dispersion(np.ones((5, 4))) == pytest.approx(0.0, abs=1e-9)
    assert embedding_dispersion([[1.0, 0.0], [-2.0, 0.0]]) == pytest.approx(2.0)
    assert embedding_dispersion(np.ones((1, 4))) == 0.0
    vectors = np.random.default_rng(0).normal(size=(400, 16))
    exact = embedding_dispersion(vectors)
    sampled = embedding_dispersion(vectors, max_pairs=20_000, seed=1)
    assert sampled == pytest.approx(exact, abs=0.01)  # random directions: ~1.0
    assert sampled == embedding_dispersion(vectors, max_pairs=20_000, seed=1)  # seeded


def test_nn_similarity_histogram() -> None:
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [-1.0, 0.0]])
    counts, edges = nn_similarity_histogram(vectors, bins=4, block=2)
    assert edges.tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    # Rows 0 and 1 are each other's near copies (~0.99); row 2's nearest is row 1 (~0.14);
    # row 3's nearest is row 2 (0.0).
    assert counts.tolist() == [0, 0, 2, 2]
    assert nn_similarity_histogram(np.ones((1, 2)), bins=2)[0].tolist() == [0, 0]
