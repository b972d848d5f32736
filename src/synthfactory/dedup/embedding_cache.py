"""A content-addressed cache of embeddings, so no text is embedded (or paid for) twice.

Semantic dedup seeds its index with every stored row at the start of each run and each
resume; without a cache that re-embeds the whole dataset every time (about 20 minutes per
1e5 rows with MiniLM on 2 cores, or a bill from a paid endpoint). :class:`CachedEmbedder`
wraps any :class:`~synthfactory.dedup.embedders.Embedder`: vectors are kept in SQLite under
the embedder's name and the sha256 of the text, and only texts not seen before reach the
wrapped embedder, in one call.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthfactory.dedup.embedders import F32, Embedder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    digest BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, digest)
) WITHOUT ROWID
"""
#: SQLite allows this many bound parameters per statement, with room to spare.
_CHUNK = 900


class CachedEmbedder:
    """An :class:`Embedder` that remembers every vector it was given, on disk."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        """Wrap ``inner``; the cache lives in the SQLite file at ``path`` (made if missing)."""
        self.inner = inner
        path.parent.mkdir(parents=True, exist_ok=True)
        # Used from one worker thread at a time, but not always the same one.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        """The wrapped embedder's name (also the cache's key space)."""
        return self.inner.name

    @property
    def dim(self) -> int:
        """The vector length: read off a cached vector when there is one (an endpoint
        embedder would otherwise send a probe request to learn it)."""
        with self._lock:
            row = self._db.execute(
                "SELECT vector FROM embeddings WHERE model = ? LIMIT 1", (self.name,)
            ).fetchone()
        return len(row[0]) // 4 if row else self.inner.dim

    def embed(self, texts: Sequence[str]) -> F32:
        """Vectors for ``texts``: from the cache, and from the wrapped embedder for the rest."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        digests = [hashlib.sha256(t.encode("utf-8")).digest() for t in texts]
        with self._lock:
            found = self._lookup(sorted(set(digests)))
        first: dict[bytes, str] = {}
        for digest, text in zip(digests, texts, strict=True):
            if digest not in found:
                first.setdefault(digest, text)
        if first:
            fresh = self.inner.embed(list(first.values()))
            vectors = [np.asarray(v, dtype=np.float32) for v in fresh]
            rows = [(self.name, d, v.tobytes()) for d, v in zip(first, vectors, strict=True)]
            with self._lock:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)
                self._db.execute("COMMIT")
            found.update(zip(first, vectors, strict=True))
        self.misses += len(first)
        self.hits += len(texts) - len(first)
        return np.stack([found[d] for d in digests])

    def _lookup(self, digests: list[bytes]) -> dict[bytes, F32]:
        out: dict[bytes, F32] = {}
        for start in range(0, len(digests), _CHUNK):
            chunk = digests[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT digest, vector FROM embeddings WHERE model = ? AND digest IN ({marks})"
            for digest, blob in self._db.execute(query, [self.name, *chunk]):
                out[digest] = np.frombuffer(blob, dtype=np.float32)
        return out

    def close(self) -> None:
        """Close the cache file."""
        self._db.close()


__all__ = ["CachedEmbedder"]
