"""Witnesses: a second party that remembers every checkpoint and refuses to be rolled back.

A witness keeps, per log origin, every checkpoint it accepted. It accepts a new checkpoint
only if it carries a valid signature by a log key it trusts, its size is not below the last
one it accepted, and a consistency proof shows the last accepted tree is a prefix of the new
one (same size: same root). It then cosigns the checkpoint, adding its own signature line.

That is what makes rollback and rewriting detectable: the log's own signature only proves
the key holder said so, so without a witness, truncating the log back to an earlier genuine
checkpoint, or an insider rewriting records and re-signing the new tree with the real key,
passes every check. :func:`synthfactory.provenance.verify_log` given the witness's state
compares the log against every checkpoint the witness saw.

:class:`Witness` is the protocol (two methods, shaped like C2SP tlog-witness's
``add-checkpoint``: the log says which size it believes the witness is at and sends the
consistency proof from there). :class:`DirectoryWitness` keeps its state in a directory
(another disk, a mounted bucket); an external witness implements the same two methods over
HTTP. The cosignature is a plain Ed25519 signed-note signature line, not the timestamped
``cosignature/v1`` format.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from synthfactory.provenance.checkpoint import SignedCheckpoint
from synthfactory.provenance.errors import NoteError, WitnessRefusedError
from synthfactory.provenance.merkle import verify_consistency
from synthfactory.provenance.note import NoteSigner, NoteVerifier, add_signature, split_note


@runtime_checkable
class Witness(Protocol):
    """Something that checks, remembers and cosigns a log's checkpoints."""

    def latest_size(self, origin: str) -> int:
        """The size of the last checkpoint accepted for ``origin`` (0 if none)."""
        ...

    def submit(self, note: str, old_size: int, proof: Sequence[bytes]) -> str:
        """Check the checkpoint ``note`` against the one at ``old_size``; return it cosigned.

        Raises :class:`WitnessRefusedError` if it rolls back, forks, or the proof fails.
        """
        ...


def origin_dirname(origin: str) -> str:
    """A file-system-safe, collision-free directory name for an origin."""
    return base64.urlsafe_b64encode(origin.encode()).decode().rstrip("=")


def read_witness_state(directory: str | os.PathLike[str], origin: str) -> list[str]:
    """Every checkpoint note a :class:`DirectoryWitness` stored for ``origin``, oldest first."""
    folder = Path(directory) / origin_dirname(origin)
    if not folder.is_dir():
        return []
    return [p.read_text() for p in sorted(folder.glob("*.checkpoint"))]


class DirectoryWitness:
    """A witness keeping its checkpoints as files under ``directory``, one folder per origin.

    ``log_keys`` are the log keys it trusts; ``signer`` is its own key, used to cosign.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        signer: NoteSigner,
        log_keys: Sequence[NoteVerifier],
    ) -> None:
        self.directory = Path(directory)
        self.signer = signer
        self.log_keys = tuple(log_keys)

    @property
    def verifier(self) -> NoteVerifier:
        """The witness's public key, to check its cosignatures."""
        return self.signer.verifier

    def _latest(self, origin: str) -> SignedCheckpoint | None:
        notes = read_witness_state(self.directory, origin)
        return self._parse(notes[-1]) if notes else None

    def _parse(self, note: str) -> SignedCheckpoint:
        problems = []
        for key in self.log_keys:
            try:
                return SignedCheckpoint.parse(note, key)
            except NoteError as err:
                problems.append(str(err))
        raise WitnessRefusedError(
            "checkpoint not signed by a log key this witness trusts: " + "; ".join(problems)
        )

    def latest_size(self, origin: str) -> int:
        """The size of the last checkpoint accepted for ``origin`` (0 if none)."""
        latest = self._latest(origin)
        return 0 if latest is None else latest.size

    def submit(self, note: str, old_size: int, proof: Sequence[bytes]) -> str:
        """Check, store and cosign a checkpoint; :class:`WitnessRefusedError` if refused."""
        new = self._parse(note)
        latest = self._latest(new.origin)
        seen = 0 if latest is None else latest.size
        if new.size < seen:
            raise WitnessRefusedError(
                f"rollback: {new.origin} checkpoint has size {new.size}, but this witness "
                f"already accepted size {seen}",
                origin=new.origin,
                seen=seen,
            )
        if old_size != seen:
            raise WitnessRefusedError(
                f"the log believes this witness is at size {old_size}, it is at {seen}; "
                "resend with a consistency proof from there",
                origin=new.origin,
                seen=seen,
            )
        if latest is not None and not verify_consistency(
            latest.size, new.size, latest.root, new.root, proof
        ):
            what = "fork: same size, other root" if new.size == seen else "consistency proof fails"
            raise WitnessRefusedError(
                f"{what}: {new.origin} checkpoint of size {new.size} is not an extension of "
                f"the one of size {seen} this witness accepted",
                origin=new.origin,
                seen=seen,
            )
        _, signatures = split_note(note)
        if any(s.key_id == self.signer.verifier.key_id for s in signatures):
            cosigned = note
        else:
            cosigned = add_signature(note, self.signer)
        if latest is None or new.size > seen:
            self._store(new.origin, new.size, cosigned)
        return cosigned

    def _store(self, origin: str, size: int, note: str) -> None:
        folder = self.directory / origin_dirname(origin)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(note)
            fh.flush()
            os.fsync(fh.fileno())
        # Zero-padded names sort by size; replace is atomic, so a crash leaves old or new.
        os.replace(tmp, folder / f"{size:020d}.checkpoint")


__all__ = ["DirectoryWitness", "Witness", "origin_dirname", "read_witness_state"]
