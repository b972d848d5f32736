"""Errors of the provenance log, each rooted in :mod:`synthfactory.errors`.

::

    SynthFactoryError
    ├── UserInputError (Fatal)
    │   └── SecretInRecordError          a record field looks like a credential: refused
    ├── ProvenanceError                  base of the audit log's own errors
    │   ├── ConcurrentWriterError (Fatal)   another process appended to the same log
    │   ├── NotCheckpointedError            an item's records lie past the latest checkpoint
    │   └── NoteError (Fatal)               a signed note or key that fails to parse or verify
    │       └── WitnessRefusedError         a witness refused a checkpoint (rollback, fork)

A verifier's "the log was tampered with" is data (a :class:`VerificationReport` with its first
problem), not an exception: only unusable input (a missing file, an unreadable key) raises.
"""

from __future__ import annotations

from synthfactory.errors import Fatal, SynthFactoryError, UserInputError


class SecretInRecordError(UserInputError):
    """A provenance record field looks like a secret (API key, bearer token, private key).

    The message names the field and the kind of secret, never the value.
    """


class ProvenanceError(SynthFactoryError):
    """Base of the audit log's own errors."""


class ConcurrentWriterError(ProvenanceError, Fatal):
    """Another writer appended to the log; one log has exactly one writer (the run driver)."""


class NotCheckpointedError(ProvenanceError):
    """An item's records lie beyond the latest signed checkpoint: call ``checkpoint()`` first."""


class NoteError(ProvenanceError, Fatal):
    """A signed note, checkpoint or key that cannot be parsed, or whose signature is wrong."""


class WitnessRefusedError(NoteError):
    """A witness refused a checkpoint: it rolls back, forks, or its consistency proof fails."""


__all__ = [
    "ConcurrentWriterError",
    "NotCheckpointedError",
    "NoteError",
    "ProvenanceError",
    "SecretInRecordError",
    "WitnessRefusedError",
]
