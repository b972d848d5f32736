"""Semantic dedup: a text duplicates an earlier one when their embeddings' cosine similarity
reaches a threshold, so paraphrases are caught that share few words.

Neighbours are found by brute force in numpy while the index is small, and in a Lance table
with an IVF_PQ vector index once it holds ``lance_from`` vectors (only if a ``workdir`` was
given: the index writes nowhere on its own). The crossover, 100,000 by default, measured
on 2 cores: 1,000 queries against 1e5 stored vectors of 384 floats take 1.4 s of matrix
products (0.22 s against 1e4) and the vectors 150 MB, while embedding those 1,000 texts
with MiniLM takes ~13 s; so up to 1e5 exact search costs a tenth of the embedding or less.
Lance is not faster there: at 1e5 (measured on a busy machine) building the IVF_PQ index
took 105 s and 1,000 queries 3.3 s (50 probes, refine 10, top-1 recall 1.0 on noisy copies).
The move happens at 1e5 for memory (numpy holds every vector in RAM, 1.5 kB each) and for
growth (numpy search time grows linearly, IVF_PQ's does not); the query-time crossover lies
above 1e5 and was not measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from synthfactory.dedup.embedders import Embedder
from synthfactory.dedup.index import Duplicate, check_lengths

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

#: Vectors held in numpy before moving to a Lance vector index (see the module docstring).
LANCE_FROM = 100_000
_BLOCK = 8192


class Neighbours(Protocol):
    """Stored unit vectors, numbered from 0 in order of addition."""

    def add(self, vectors: F32) -> None:
        """Store ``vectors`` (rows, L2-normalized)."""
        ...

    def nearest(self, queries: F32) -> tuple[I64, npt.NDArray[np.float64]]:
        """For each query row, the number of its most similar stored vector and the cosine
        similarity (``-1`` and ``-inf`` when nothing is stored)."""
        ...

    def __len__(self) -> int:
        """How many vectors are stored."""
        ...


class NumpyNeighbours:
    """Exact neighbours by one matrix product per batch; for up to ~1e5 vectors."""

    def __init__(self, dim: int) -> None:
        """An empty store of ``dim``-dimensional vectors."""
        self._vectors: F32 = np.empty((1024, dim), dtype=np.float32)
        self._size = 0

    def add(self, vectors: F32) -> None:
        """See :meth:`Neighbours.add`."""
        need = self._size + vectors.shape[0]
        if need > self._vectors.shape[0]:
            rows = max(need, 2 * self._vectors.shape[0])
            grown = np.empty((rows, self._vectors.shape[1]), dtype=np.float32)
            grown[: self._size] = self._vectors[: self._size]
            self._vectors = grown
        self._vectors[self._size : need] = vectors
        self._size = need

    def nearest(self, queries: F32) -> tuple[I64, npt.NDArray[np.float64]]:
        """See :meth:`Neighbours.nearest`."""
        m = queries.shape[0]
        best = np.full(m, -1, dtype=np.int64)
        best_sims = np.full(m, -np.inf)
        rows = np.arange(m)
        # Blocks of stored vectors bound the similarity matrix (1,000 queries: 32 MB).
        for start in range(0, self._size, _BLOCK):
            sims = queries @ self._vectors[start : min(start + _BLOCK, self._size)].T
            top = np.argmax(sims, axis=1)
            top_sims = sims[rows, top].astype(np.float64)
            better = top_sims > best_sims
            best[better] = top[better] + start
            best_sims[better] = top_sims[better]
        return best, best_sims

    def vectors(self) -> F32:
        """The stored vectors, in order."""
        return self._vectors[: self._size]

    def __len__(self) -> int:
        return self._size


class LanceNeighbours:
    """Neighbours from a Lance table with an IVF_PQ index (cosine), at ``path``.

    The index is (re)built when the table has doubled since the last build; rows added since
    are searched exactly by Lance alongside the index.
    """

    def __init__(self, path: Path, dim: int, *, min_index_rows: int = 10_000) -> None:
        """A new table at ``path`` (replacing any table there)."""
        self._path = path
        self._dim = dim
        self._size = 0
        self._indexed = 0
        self._min_index_rows = min_index_rows
        self._dataset: Any = None

    def add(self, vectors: F32) -> None:
        """See :meth:`Neighbours.add`."""
        import lance
        import pyarrow as pa

        if vectors.shape[0] == 0:
            return
        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel())
        column = pa.FixedSizeListArray.from_arrays(flat, self._dim)
        numbers = pa.array(np.arange(self._size, self._size + vectors.shape[0]), pa.int64())
        table = pa.table({"n": numbers, "vector": column})
        mode = "create" if self._dataset is None else "append"
        if mode == "create":
            self._dataset = lance.write_dataset(table, str(self._path), mode="overwrite")
        else:
            self._dataset = lance.write_dataset(table, str(self._path), mode="append")
        self._size += vectors.shape[0]
        if self._size >= max(self._min_index_rows, 2 * self._indexed):
            # Lance trains at most about one partition per few hundred vectors.
            partitions = max(1, min(int(np.sqrt(self._size)), self._size // 512))
            self._dataset.create_index(
                "vector",
                index_type="IVF_PQ",
                metric="cosine",
                num_partitions=partitions,
                num_sub_vectors=_sub_vectors(self._dim),
                replace=True,
            )
            self._indexed = self._size

    def nearest(self, queries: F32) -> tuple[I64, npt.NDArray[np.float64]]:
        """See :meth:`Neighbours.nearest`."""
        m = queries.shape[0]
        best = np.full(m, -1, dtype=np.int64)
        sims = np.full(m, -np.inf)
        if self._dataset is None or m == 0:
            return best, sims
        found = self._dataset.to_table(
            columns=["n", "_distance"],
            disable_scoring_autoprojection=True,
            nearest={
                "column": "vector",
                "q": [row for row in queries],
                "k": 1,
                "metric": "cosine",
                "refine_factor": 10,
                "maximum_nprobes": 50,
            },
        )
        query_index = found.column("query_index").to_numpy()
        best[query_index] = found.column("n").to_numpy()
        sims[query_index] = 1.0 - found.column("_distance").to_numpy().astype(np.float64)
        return best, sims

    def __len__(self) -> int:
        return self._size


def _sub_vectors(dim: int) -> int:
    """The most PQ sub-vectors (at most dim/8) that divide ``dim``."""
    for count in range(max(1, dim // 8), 0, -1):
        if dim % count == 0:
            return count
    return 1


class SemanticIndex:
    """Semantic dedup: duplicate when the cosine similarity of embeddings >= ``threshold``.

    Embeddings come from ``embedder`` (any :class:`~synthfactory.dedup.embedders.Embedder`);
    with a ``workdir``, the vectors move to a Lance table under it once there are
    ``lance_from`` of them (see the module docstring for the crossover).
    """

    method = "semantic"

    def __init__(
        self,
        embedder: Embedder,
        threshold: float = 0.9,
        *,
        workdir: Path | None = None,
        lance_from: int = LANCE_FROM,
    ) -> None:
        """An empty index; ``threshold`` is a cosine similarity in ``(-1, 1]``."""
        if not -1.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (-1, 1], got {threshold}")
        self.embedder = embedder
        self.threshold = threshold
        self._workdir = workdir
        self._lance_from = lance_from
        self._keys: list[str] = []
        self._neighbours: NumpyNeighbours | LanceNeighbours = NumpyNeighbours(embedder.dim)

    def __len__(self) -> int:
        return len(self._keys)

    def check_add(self, keys: Sequence[str], texts: Sequence[str]) -> list[Duplicate | None]:
        """See :meth:`synthfactory.dedup.index.DedupIndex.check_add`."""
        check_lengths(keys, texts)
        if not texts:
            return []
        vectors = np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)
        return self.check_add_vectors(keys, vectors)

    def check_add_vectors(self, keys: Sequence[str], vectors: F32) -> list[Duplicate | None]:
        """:meth:`check_add` with the embeddings already computed (unit rows)."""
        n = len(keys)
        stored, stored_sims = self._neighbours.nearest(vectors)
        within = vectors @ vectors.T  # the batch against itself
        out: list[Duplicate | None] = [None] * n
        added: list[int] = []
        for position in range(n):
            best_key, best_sim = None, self.threshold
            if stored[position] >= 0 and stored_sims[position] >= best_sim:
                best_key, best_sim = self._keys[stored[position]], float(stored_sims[position])
            if added:
                sims = within[position, added]
                top = int(np.argmax(sims))
                if sims[top] >= self.threshold and (best_key is None or sims[top] > best_sim):
                    best_key, best_sim = keys[added[top]], float(sims[top])
            if best_key is None:
                added.append(position)
            else:
                similarity = min(1.0, best_sim)
                out[position] = Duplicate(of=best_key, method="semantic", similarity=similarity)
        self._add([keys[i] for i in added], vectors[added])
        return out

    def _add(self, keys: list[str], vectors: F32) -> None:
        neighbours = self._neighbours
        if (
            self._workdir is not None
            and isinstance(neighbours, NumpyNeighbours)
            and len(neighbours) + len(keys) >= self._lance_from
        ):
            lance_store = LanceNeighbours(self._workdir / "semantic.lance", self.embedder.dim)
            lance_store.add(neighbours.vectors())
            self._neighbours = neighbours = lance_store
        neighbours.add(vectors)
        self._keys += keys


__all__ = ["LANCE_FROM", "LanceNeighbours", "Neighbours", "NumpyNeighbours", "SemanticIndex"]
