"""Diversity measures of a set of texts or of their embeddings: pure functions.

- :func:`distinct_n`: the share of word n-grams that are distinct (lexical variety).
- :func:`embedding_dispersion`: mean pairwise cosine distance (semantic spread).
- :func:`nn_similarity_histogram`: how close each item's nearest neighbour is (near-copies
  pile up at the right end).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from synthfactory.dedup.normalize import words


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct word ``n``-grams over all ``n``-grams of ``texts`` (after normalization,
    punctuation stripped), in ``[0, 1]``; 0.0 when there are no ``n``-grams."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    total = 0
    seen: set[tuple[str, ...]] = set()
    for text in texts:
        tokens = words(text)
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def _unit(vectors: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    unit = np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)
    return np.asarray(unit, dtype=np.float64)


def embedding_dispersion(
    vectors: npt.ArrayLike, *, max_pairs: int = 200_000, seed: int = 0
) -> float:
    """Mean cosine distance ``1 - cos`` over distinct pairs of rows, in ``[0, 2]``.

    Exact when there are at most ``max_pairs`` pairs; otherwise the mean over
    ``max_pairs`` pairs drawn with ``seed`` (standard error about ``sd / sqrt(max_pairs)``).
    Fewer than two rows give 0.0.
    """
    unit = _unit(vectors)
    n = unit.shape[0]
    if n < 2:
        return 0.0
    pairs = n * (n - 1) // 2
    if pairs <= max_pairs:
        sims = unit @ unit.T
        upper = sims[np.triu_indices(n, k=1)]
        return float(1.0 - upper.mean())
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, size=max_pairs)
    # A second index never equal to the first: shift by 1..n-1.
    second = (first + rng.integers(1, n, size=max_pairs)) % n
    sims = np.einsum("ij,ij->i", unit[first], unit[second])
    return float(1.0 - sims.mean())


def nn_similarity_histogram(
    vectors: npt.ArrayLike, bins: int | Sequence[float] = 10, *, block: int = 2048
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Histogram of each row's cosine similarity to its nearest other row.

    ``bins`` is a count of equal bins over ``[-1, 1]`` or explicit edges; returns
    ``(counts, edges)`` as :func:`numpy.histogram` does. Exact, in blocks of ``block`` rows
    (``O(n^2)`` time, ``O(block * n)`` memory). Fewer than two rows give all-zero counts.
    """
    unit = _unit(vectors)
    n = unit.shape[0]
    edges = np.linspace(-1.0, 1.0, bins + 1) if isinstance(bins, int) else np.asarray(bins)
    if n < 2:
        return np.zeros(len(edges) - 1, dtype=np.int64), edges.astype(np.float64)
    nearest = np.empty(n)
    for start in range(0, n, block):
        sims = unit[start : start + block] @ unit.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf  # not oneself
        nearest[start : start + block] = sims.max(axis=1)
    counts, edges = np.histogram(np.clip(nearest, -1.0, 1.0), bins=edges)
    return counts.astype(np.int64), edges.astype(np.float64)


__all__ = ["distinct_n", "embedding_dispersion", "nn_similarity_histogram"]
