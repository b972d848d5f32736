"""Dedup and diversity: exact, near-duplicate (MinHash LSH) and semantic (embeddings).

Every method is a :class:`DedupIndex` with one call, ``check_add(keys, texts)``; the run
driver seeds an index with the dataset's stored rows and then checks new items against it,
and :func:`dedup_corpus` runs the same indexes over JSONL or Parquet files. Heavy parts load
lazily: MinHash needs ``datasketch`` (core), the local embedder the ``embed`` extra.

- :mod:`.normalize`: what "the same text" means (NFKC, casefold, whitespace) and shingles.
- :mod:`.index`: :class:`Duplicate`, :class:`DedupIndex`, :class:`ExactIndex`.
- :mod:`.minhash`: :class:`MinHashIndex`, vectorized signatures and LSH banding.
- :mod:`.semantic`: :class:`SemanticIndex`, numpy or Lance neighbours.
- :mod:`.embedders`: :class:`Embedder`, :class:`OpenAIEmbedder`, :class:`MiniLMEmbedder`.
- :mod:`.corpus`: :func:`dedup_corpus` for files; :mod:`.diversity`: diversity measures.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from synthfactory.dedup.index import DedupIndex, Duplicate, ExactIndex

if TYPE_CHECKING:
    from synthfactory.dedup.corpus import DedupReport, dedup_corpus, make_index
    from synthfactory.dedup.embedders import Embedder, MiniLMEmbedder, OpenAIEmbedder
    from synthfactory.dedup.minhash import MinHashIndex
    from synthfactory.dedup.semantic import SemanticIndex

__all__ = [
    "DedupIndex",
    "DedupReport",
    "Duplicate",
    "Embedder",
    "ExactIndex",
    "MinHashIndex",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "SemanticIndex",
    "dedup_corpus",
    "make_index",
]

# numpy and datasketch load on first use, so `import synthfactory.dedup` stays light.
_LAZY = {
    "DedupReport": "synthfactory.dedup.corpus",
    "dedup_corpus": "synthfactory.dedup.corpus",
    "make_index": "synthfactory.dedup.corpus",
    "Embedder": "synthfactory.dedup.embedders",
    "MiniLMEmbedder": "synthfactory.dedup.embedders",
    "OpenAIEmbedder": "synthfactory.dedup.embedders",
    "MinHashIndex": "synthfactory.dedup.minhash",
    "SemanticIndex": "synthfactory.dedup.semantic",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
