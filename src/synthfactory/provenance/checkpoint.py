"""Checkpoints in the C2SP tlog-checkpoint format, carried in signed notes.

A checkpoint (https://c2sp.org/tlog-checkpoint) is a note whose text is::

    <origin>
    <tree size, decimal>
    <base64 root hash>

followed by the note's signatures. The log signs checkpoints, never single entries: one
signature commits to every record up to the tree size through the root hash, at a cost
of one Ed25519 signature per checkpoint instead of one per record (~240 appends/s).

A signed checkpoint only proves the key holder said so. Without a witness keeping the
checkpoints it has seen, rolling the log back to an earlier genuine checkpoint, or an insider
rewriting the records and re-signing the new tree with the real key, is not detectable.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from synthfactory.provenance.errors import NoteError
from synthfactory.provenance.merkle import HASH_SIZE
from synthfactory.provenance.note import NoteSigner, NoteVerifier, sign_note, verify_note


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The note text of a checkpoint."""
    if not origin or "\n" in origin:
        raise NoteError("a checkpoint origin is one non-empty line")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint and the signed note that carries it."""

    origin: str
    size: int
    root: bytes
    note: str

    @classmethod
    def sign(cls, origin: str, size: int, root: bytes, signer: NoteSigner) -> SignedCheckpoint:
        """Sign a new checkpoint."""
        return cls(origin, size, root, sign_note(checkpoint_text(origin, size, root), signer))

    @classmethod
    def parse(cls, note: str, verifier: NoteVerifier) -> SignedCheckpoint:
        """Verify ``note``'s signature by ``verifier`` and parse its checkpoint.

        Raises :class:`NoteError` naming what is wrong.
        """
        text = verify_note(note, verifier)
        origin, size, root = parse_checkpoint_text(text)
        return cls(origin, size, root, note)

    def with_note(self, note: str) -> SignedCheckpoint:
        """The same checkpoint carried by another note (e.g. one with a cosignature added)."""
        return SignedCheckpoint(self.origin, self.size, self.root, note)


def parse_checkpoint_text(text: str) -> tuple[str, int, bytes]:
    """``(origin, size, root)`` of a checkpoint's note text (extension lines are ignored)."""
    lines = text.split("\n")
    if len(lines) < 4:
        raise NoteError("a checkpoint has an origin, a size and a root hash line")
    origin, size_line, root_line = lines[0], lines[1], lines[2]
    if not size_line.isdigit() or (size_line.startswith("0") and size_line != "0"):
        raise NoteError(f"checkpoint size {size_line[:30]!r} is not a decimal number")
    try:
        root = base64.b64decode(root_line, validate=True)
    except binascii.Error:
        raise NoteError("checkpoint root hash is not base64") from None
    if len(root) != HASH_SIZE:
        raise NoteError("checkpoint root hash is not 32 bytes")
    return origin, int(size_line), root


__all__ = ["SignedCheckpoint", "checkpoint_text", "parse_checkpoint_text"]
