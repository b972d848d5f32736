"""Fixtures of the dedup tests: an in-process embedder that needs no model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from synthfactory.dedup.embedders import MiniLMEmbedder
from synthfactory.testing.fake_server import fake_embedding


class BagOfWordsEmbedder:
    """The fake server's embedding (hashed bag of words), without the server."""

    name = "bag-of-words"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        rows = [fake_embedding(text, self.dim) for text in texts]
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)


@pytest.fixture
def bow() -> BagOfWordsEmbedder:
    """A deterministic embedder: equal texts equal vectors, shared words close vectors."""
    return BagOfWordsEmbedder()


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real all-MiniLM-L6-v2 embedder (the embed extra), loaded once per session."""
    return MiniLMEmbedder()
