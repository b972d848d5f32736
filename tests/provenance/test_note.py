"""Signed notes, checkpoints, key files and the directory witness."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from synthfactory.provenance import (
    DirectoryWitness,
    MemoryTree,
    NoteError,
    NoteSigner,
    NoteVerifier,
    SignedCheckpoint,
    WitnessRefusedError,
    generate_key,
    load_signer,
    load_verifier,
)
from synthfactory.provenance.note import public_key_path, split_note

from .conftest import ORIGIN


def test_checkpoint_is_a_c2sp_signed_note(signer: NoteSigner) -> None:
    root = hashlib.sha256(b"root").digest()
    cp = SignedCheckpoint.sign(ORIGIN, 42, root, signer)
    body, sig_block = cp.note.split("\n\n")
    assert body == f"{ORIGIN}\n42\n{base64.b64encode(root).decode()}"
    name, blob = sig_block.removesuffix("\n").removeprefix("\u2014 ").split(" ")
    assert name == signer.name
    raw = base64.b64decode(blob)
    pub = signer.verifier.public_key
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    assert signer.verifier.verify((body + "\n").encode(), raw[4:])
    assert SignedCheckpoint.parse(cp.note, signer.verifier) == cp


def test_vkey_format_round_trips(signer: NoteSigner) -> None:
    vkey = signer.verifier.vkey()
    name, key_id, blob = vkey.split("+", 2)
    assert name == signer.name and len(bytes.fromhex(key_id)) == 4
    assert base64.b64decode(blob)[0] == 0x01
    assert NoteVerifier.from_vkey(vkey) == signer.verifier
    assert load_verifier(vkey) == signer.verifier
    assert NoteSigner.from_skey(signer.skey()).verifier == signer.verifier


def test_wrong_key_and_forged_signatures_are_refused(signer: NoteSigner) -> None:
    cp = SignedCheckpoint.sign(ORIGIN, 1, b"\x00" * 32, signer)
    with pytest.raises(NoteError, match="no signature by key"):
        SignedCheckpoint.parse(cp.note, NoteSigner.generate("other").verifier)
    # same name, other key: a different key id, so no signature by it either
    with pytest.raises(NoteError, match="no signature"):
        SignedCheckpoint.parse(cp.note, NoteSigner.generate(signer.name).verifier)
    forged = cp.note.replace(f"{ORIGIN}\n1\n", f"{ORIGIN}\n2\n")
    with pytest.raises(NoteError, match="does not verify"):
        SignedCheckpoint.parse(forged, signer.verifier)


def test_generate_key_writes_0600_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "log.key"
    verifier = generate_key(path, "log.example")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_verifier(public_key_path(path)) == verifier
    signer = load_signer(path)
    assert signer.verifier == verifier
    assert signer.skey() not in repr(signer)
    assert "PRIVATE" not in repr(signer)
    with pytest.raises(NoteError, match="refusing to overwrite"):
        generate_key(path, "log.example")
    os.chmod(path, 0o644)
    with pytest.raises(NoteError, match="readable by others"):
        load_signer(path)


def test_witness_accepts_extensions_and_cosigns(
    tmp_path: Path, signer: NoteSigner, witness_signer: NoteSigner
) -> None:
    witness = DirectoryWitness(tmp_path / "w", witness_signer, [signer.verifier])
    tree = MemoryTree()
    for i in range(10):
        tree.append(bytes([i]))
    first = SignedCheckpoint.sign(ORIGIN, 4, tree.root(4), signer)
    cosigned = witness.submit(first.note, 0, [])
    assert len(split_note(cosigned)[1]) == 2
    SignedCheckpoint.parse(cosigned, witness_signer.verifier)  # the cosignature verifies
    second = SignedCheckpoint.sign(ORIGIN, 10, tree.root(10), signer)
    witness.submit(second.note, 4, tree.consistency(4, 10))
    assert witness.latest_size(ORIGIN) == 10
    # the same checkpoint again is fine (idempotent)
    witness.submit(second.note, 10, [])

    rollback = SignedCheckpoint.sign(ORIGIN, 4, tree.root(4), signer)
    with pytest.raises(WitnessRefusedError, match="rollback"):
        witness.submit(rollback.note, 10, [])
    forked = MemoryTree(tree.leaves)
    forked.leaves[2] = forked.leaves[3]
    fork = SignedCheckpoint.sign(
        ORIGIN, 12, MemoryTree([*forked.leaves, *tree.leaves[:2]]).root(), signer
    )
    with pytest.raises(WitnessRefusedError, match="consistency proof fails"):
        witness.submit(fork.note, 10, tree.consistency(4, 10))
    same_size_fork = SignedCheckpoint.sign(ORIGIN, 10, forked.root(), signer)
    with pytest.raises(WitnessRefusedError, match="fork"):
        witness.submit(same_size_fork.note, 10, [])
    stranger = SignedCheckpoint.sign(ORIGIN, 11, tree.root(10), NoteSigner.generate("evil"))
    with pytest.raises(WitnessRefusedError, match="trusts"):
        witness.submit(stranger.note, 10, [])
    with pytest.raises(WitnessRefusedError, match="at 10"):
        witness.submit(second.note, 4, [])
    assert witness.latest_size(ORIGIN) == 10
