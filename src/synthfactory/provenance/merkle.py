"""The RFC 9162 Merkle tree: hashes, inclusion and consistency proofs, and their checks.

Leaf hash ``SHA-256(0x00 || data)``, interior node ``SHA-256(0x01 || left || right)``; the
hash of ``n`` leaves (MTH) splits at ``k``, the largest power of two below ``n``, so a tree
of any size is well defined (RFC 9162 §2.1.1). The empty tree hashes to ``SHA-256("")``.

Proof generation is written against a :data:`SubtreeHasher`, a function returning the MTH of
leaves ``[start, end)``: an in-memory list (:class:`MemoryTree`) for tests and small trees,
or the SQLite log's cache of complete-subtree nodes, which answers every range the RFC
recursion asks for in O(log n) lookups. Verification needs nothing but the hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHasher = Callable[[int, int], bytes]
"""Returns MTH(D[start:end]) for ``0 <= start < end``."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, iteratively (fold of the compact range)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    frontier = CompactRange()
    for h in leaf_hashes:
        frontier.append(h)
    return frontier.root()


class CompactRange:
    """The roots of the complete subtrees covering leaves ``[0, size)``, left to right.

    Appending is amortised O(1) and the root is a right fold of at most log2(n) nodes, so
    a verifier streams millions of leaves in O(log n) memory. ``on_node`` (if given) is told
    of every interior node completed: ``(level, index, hash)``, the node covering leaves
    ``[index * 2**level, (index + 1) * 2**level)``.
    """

    def __init__(
        self,
        nodes: Sequence[tuple[int, bytes]] = (),
        size: int = 0,
        on_node: Callable[[int, int, bytes], None] | None = None,
    ) -> None:
        self._stack: list[tuple[int, bytes]] = list(nodes)
        self.size = size
        self._on_node = on_node

    def append(self, h: bytes) -> None:
        """Add the next leaf hash."""
        stack = self._stack
        stack.append((0, h))
        self.size += 1
        while len(stack) >= 2 and stack[-1][0] == stack[-2][0]:
            level, right = stack.pop()
            _, left = stack.pop()
            parent = node_hash(left, right)
            stack.append((level + 1, parent))
            if self._on_node is not None:
                self._on_node(level + 1, (self.size >> (level + 1)) - 1, parent)

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h

    @property
    def nodes(self) -> list[tuple[int, bytes]]:
        """The ``(level, hash)`` of each complete subtree, left to right."""
        return list(self._stack)


def compact_range_positions(size: int) -> list[tuple[int, int]]:
    """``(level, index)`` of the complete subtrees covering ``[0, size)``, left to right."""
    out = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


def inclusion_path(index: int, size: int, subtree: SubtreeHasher) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = split_point(end - start)
        if m < k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
            m -= k
    path.reverse()  # the recursion appends from the root down; the proof goes leaf up
    return path


def consistency_path(old: int, new: int, subtree: SubtreeHasher) -> list[bytes]:
    """PROOF(old, D[0:new]) of RFC 9162 §2.1.4.1; empty when ``old`` is 0 or ``new``."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return []
    path: list[bytes] = []
    start, end, m, whole = 0, new, old, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                path.append(subtree(start, end))
            break
        k = split_point(n)
        if m <= k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
            m -= k
            whole = False
    path.reverse()
    return path


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root implied by an inclusion proof (RFC 9162 §2.1.3.2), or None if malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """True when ``path`` proves leaf hash ``leaf`` sits at ``index`` in the tree ``root``."""
    return root_from_inclusion(index, size, leaf, path) == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """True when ``path`` proves tree ``old_root`` (size ``old``) is a prefix of ``new_root``.

    RFC 9162 §2.1.4.2, plus the trivial cases: equal sizes need equal roots and an empty
    proof; from the empty tree, any tree is an extension (and the proof must be empty).
    """
    if not 0 <= old <= new:
        return False
    if old == new:
        return not path and old_root == new_root
    if old == 0:
        return not path and old_root == EMPTY_ROOT
    if not path:
        return False
    proof = list(path)
    if old & (old - 1) == 0:  # an exact power of two: the old root is itself a node
        proof.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class MemoryTree:
    """A Merkle tree over an in-memory list of leaf hashes (tests, bundles, small logs).

    Subtree hashes are computed on demand: O(end - start) per call, so a proof costs O(n).
    """

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self.leaves: list[bytes] = list(leaf_hashes)

    def append(self, data: bytes) -> int:
        """Hash and add one leaf; returns its index."""
        self.leaves.append(leaf_hash(data))
        return len(self.leaves) - 1

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end])."""
        return root_of(self.leaves[start:end])

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all by default)."""
        return root_of(self.leaves[: len(self.leaves) if size is None else size])

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        return inclusion_path(index, len(self.leaves) if size is None else size, self.subtree)

    def consistency(self, old: int, new: int | None = None) -> list[bytes]:
        """The consistency proof from size ``old`` to ``new``."""
        return consistency_path(old, len(self.leaves) if new is None else new, self.subtree)


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MemoryTree",
    "SubtreeHasher",
    "compact_range_positions",
    "consistency_path",
    "inclusion_path",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion",
    "root_of",
    "split_point",
    "verify_consistency",
    "verify_inclusion",
]
