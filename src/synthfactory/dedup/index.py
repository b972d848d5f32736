"""The dedup index protocol, the :class:`Duplicate` verdict, and exact dedup.

Every method (exact, MinHash, semantic) is a :class:`DedupIndex`: texts go in with their
keys, in order, and each comes back either ``None`` (new: it was added) or a
:class:`Duplicate` naming the key of the earlier item it repeats. Seeding an index from a
dataset's stored rows is just ``index.check_add(stored_keys, stored_texts)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from synthfactory.dedup.normalize import normalize

#: The similarity at or above which each method calls two texts duplicates, by default:
#: estimated Jaccard of shingles for MinHash, cosine of embeddings for semantic.
DEFAULT_THRESHOLDS: dict[str, float] = {"exact": 1.0, "minhash": 0.8, "semantic": 0.9}


@dataclass(frozen=True)
class Duplicate:
    """Why an item was dropped: it duplicates the stored or earlier item ``of``."""

    of: str
    """Key of the stored or earlier item it duplicates."""
    method: str
    """``"exact"``, ``"minhash"`` or ``"semantic"``."""
    similarity: float
    """1.0 for exact; the estimated Jaccard similarity or the cosine similarity otherwise."""


class DedupIndex(Protocol):
    """A set of texts that answers "is this one new?" and remembers the new ones."""

    def check_add(self, keys: Sequence[str], texts: Sequence[str]) -> list[Duplicate | None]:
        """For each text in order: a Duplicate if it repeats an earlier text (added before,
        or earlier in this batch), else None and it is added."""
        ...

    def __len__(self) -> int:
        """How many texts were added (duplicates are not)."""
        ...


@runtime_checkable
class ForgettingIndex(DedupIndex, Protocol):
    """An index that can also forget a text it added: an item that passed a dedup step and
    was then rejected must not block a later item of the same content (a task answered
    wrongly may be answered again)."""

    def discard(self, key: str) -> bool:
        """Forget the text added under ``key``; False if there was none."""
        ...


def check_lengths(keys: Sequence[str], texts: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``keys`` and ``texts`` pair up one to one."""
    if len(keys) != len(texts):
        raise ValueError(f"{len(keys)} keys but {len(texts)} texts")


class ExactIndex:
    """Exact dedup on normalized content (NFKC, case-folded, whitespace collapsed).

    Holds a 16-byte BLAKE2b digest per added text, so a million texts take about 150 MB.
    """

    method = "exact"

    def __init__(self, *, strip_punctuation: bool = False) -> None:
        """``strip_punctuation`` also makes texts equal that differ only in punctuation."""
        self._strip_punctuation = strip_punctuation
        self._seen: dict[bytes, str] = {}
        self._digests: dict[str, bytes] = {}  # key -> digest, to forget by key

    def digest(self, text: str) -> bytes:
        """The 16-byte digest under which ``text`` is remembered."""
        normal = normalize(text, strip_punctuation=self._strip_punctuation)
        return hashlib.blake2b(normal.encode("utf-8"), digest_size=16).digest()

    def check_add(self, keys: Sequence[str], texts: Sequence[str]) -> list[Duplicate | None]:
        """See :meth:`DedupIndex.check_add`."""
        check_lengths(keys, texts)
        out: list[Duplicate | None] = []
        seen = self._seen
        for key, text in zip(keys, texts, strict=True):
            digest = self.digest(text)
            first = seen.get(digest)
            if first is None:
                seen[digest] = key
                self._digests[key] = digest
                out.append(None)
            else:
                out.append(Duplicate(of=first, method="exact", similarity=1.0))
        return out

    def discard(self, key: str) -> bool:
        """See :meth:`ForgettingIndex.discard`."""
        digest = self._digests.pop(key, None)
        if digest is None:
            return False
        del self._seen[digest]
        return True

    def __len__(self) -> int:
        return len(self._seen)


__all__ = ["DedupIndex", "Duplicate", "ExactIndex", "ForgettingIndex", "check_lengths"]
