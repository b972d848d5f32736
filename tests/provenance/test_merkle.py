"""RFC 9162 Merkle tree: test vectors, hand-computed trees, exhaustive and property checks."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthfactory.provenance.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# The leaves and expected values of the RFC 6962 reference tests (certificate-transparency).
VECTOR_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
VECTOR_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
VECTOR_INCLUSION = [  # (leaf, tree size, path)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        [
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        ],
    ),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
VECTOR_CONSISTENCY = [  # (old size, new size, path)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def vector_tree() -> MemoryTree:
    tree = MemoryTree()
    for leaf in VECTOR_LEAVES:
        tree.append(leaf)
    return tree


def test_empty_tree_hashes_to_sha256_of_nothing() -> None:
    assert root_of([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("size", range(1, 9))
def test_rfc6962_roots(size: int) -> None:
    assert vector_tree().root(size).hex() == VECTOR_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), VECTOR_INCLUSION)
def test_rfc6962_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    tree = vector_tree()
    assert [h.hex() for h in tree.inclusion(index, size)] == path
    root = bytes.fromhex(VECTOR_ROOTS[size - 1])
    leaf = leaf_hash(VECTOR_LEAVES[index])
    assert verify_inclusion(index, size, leaf, [bytes.fromhex(h) for h in path], root)


@pytest.mark.parametrize(("old", "new", "path"), VECTOR_CONSISTENCY)
def test_rfc6962_consistency_vectors(old: int, new: int, path: list[str]) -> None:
    tree = vector_tree()
    assert [h.hex() for h in tree.consistency(old, new)] == path
    assert verify_consistency(
        old,
        new,
        bytes.fromhex(VECTOR_ROOTS[old - 1]),
        bytes.fromhex(VECTOR_ROOTS[new - 1]),
        [bytes.fromhex(h) for h in path],
    )


def test_hand_computed_small_trees() -> None:
    def h(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    a, b, c, d, e = (h(b"\x00" + x) for x in (b"a", b"b", b"c", b"d", b"e"))
    assert leaf_hash(b"a") == a
    assert node_hash(a, b) == h(b"\x01" + a + b)
    ab, cd = h(b"\x01" + a + b), h(b"\x01" + c + d)
    abcd = h(b"\x01" + ab + cd)
    tree = MemoryTree()
    for x in (b"a", b"b", b"c", b"d", b"e"):
        tree.append(x)
    assert tree.root(1) == a
    assert tree.root(2) == ab
    assert tree.root(3) == h(b"\x01" + ab + c)  # the RFC's unbalanced split: (ab, c)
    assert tree.root(4) == abcd
    assert tree.root(5) == h(b"\x01" + abcd + e)
    assert tree.inclusion(2, 3) == [ab]
    assert tree.inclusion(4, 5) == [abcd]
    assert tree.inclusion(0, 5) == [b, cd, e]
    assert tree.consistency(3, 5) == [c, d, ab, e]
    assert tree.consistency(4, 5) == [e]


def _tree(n: int) -> tuple[MemoryTree, list[bytes]]:
    tree = MemoryTree()
    for i in range(n):
        tree.append(i.to_bytes(4, "big") * 3)
    return tree, [tree.root(size) for size in range(n + 1)]


def test_every_inclusion_proof_verifies_up_to_64() -> None:
    tree, roots = _tree(64)
    for size in range(1, 65):
        for index in range(size):
            path = tree.inclusion(index, size)
            assert verify_inclusion(index, size, tree.leaves[index], path, roots[size])
            # and it proves nothing else: another leaf, index or size
            other = tree.leaves[(index + 1) % size]
            if size > 1:
                assert not verify_inclusion(index, size, other, path, roots[size])
                assert not verify_inclusion(
                    (index + 1) % size, size, tree.leaves[index], path, roots[size]
                )


def test_every_consistency_proof_verifies_up_to_64() -> None:
    tree, roots = _tree(64)
    for new in range(1, 65):
        for old in range(0, new + 1):
            path = tree.consistency(old, new)
            assert verify_consistency(old, new, roots[old], roots[new], path), (old, new)
            if 0 < old < new:
                # a tree that is not a prefix: the right proof, a wrong old root
                assert not verify_consistency(old, new, roots[old - 1], roots[new], path)
                assert not verify_consistency(old, new, roots[old], roots[new - 1], path)


def _tampered(path: list[bytes]) -> list[list[bytes]]:
    out = []
    for i in range(len(path)):
        flipped = bytearray(path[i])
        flipped[i % 32] ^= 0x01
        out.append([*path[:i], bytes(flipped), *path[i + 1 :]])
    if path:
        out.append(path[:-1])  # truncated
        out.append(path[1:])  # first hash dropped
        out.append(list(reversed(path)) if len(path) > 1 else [*path, path[0]])
    out.append([*path, b"\x00" * 32])  # extended
    return out


def test_tampered_proofs_fail() -> None:
    tree, roots = _tree(40)
    for size in (1, 2, 3, 7, 8, 13, 32, 40):
        for index in range(size):
            path = tree.inclusion(index, size)
            for bad in _tampered(path):
                if bad != path:
                    assert not verify_inclusion(index, size, tree.leaves[index], bad, roots[size])
        for old in range(1, size):
            path = tree.consistency(old, size)
            for bad in _tampered(path):
                if bad != path:
                    assert not verify_consistency(old, size, roots[old], roots[size], bad)


def test_compact_range_matches_recursive_root() -> None:
    tree, roots = _tree(70)
    frontier = CompactRange()
    for size, h in enumerate(tree.leaves, start=1):
        frontier.append(h)
        assert frontier.root() == roots[size]


@settings(max_examples=40, deadline=None)
@given(
    leaves=st.lists(st.binary(max_size=16), min_size=1, max_size=150),
    data=st.data(),
)
def test_property_inclusion(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    root = tree.root(size)
    path = tree.inclusion(index, size)
    assert verify_inclusion(index, size, leaf_hash(leaves[index]), path, root)
    assert not verify_inclusion(index, size, leaf_hash(leaves[index] + b"!"), path, root)


@settings(max_examples=40, deadline=None)
@given(leaves=st.lists(st.binary(max_size=16), min_size=1, max_size=150), data=st.data())
def test_property_consistency(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    new = data.draw(st.integers(1, len(leaves)))
    old = data.draw(st.integers(0, new))
    path = tree.consistency(old, new)
    assert verify_consistency(old, new, tree.root(old), tree.root(new), path)
    if 0 < old < new:
        forked = MemoryTree(tree.leaves[:new])
        forked.leaves[old - 1] = leaf_hash(b"forged")
        assert not verify_consistency(old, new, tree.root(old), forked.root(new), path)
