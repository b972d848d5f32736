"""Provenance by default: a tamper-evident, signed Merkle-tree log of every step attempt.

The driver's part, per workspace and per run::

    signer = load_signer(ws / "audit" / "log.key")          # generate_key(...) once
    log = SqliteAuditLog(ws / "audit" / "log.sqlite", signer, origin="synthfactory/<ws id>",
                         witnesses=[DirectoryWitness(dir, witness_signer, [signer.verifier])],
                         known_secrets=api_keys)
    log.append([ProvenanceRecord(...)])   # one record per step attempt, rejections included
    log.flush()                           # with the ledger's flush: durable from here
    log.checkpoint()                      # before each dataset commit and at the end of a run

Then anyone with the public key checks it offline: :func:`verify_log` for the whole log,
:func:`verify_bundle` for one item's receipt (:meth:`SqliteAuditLog.export_bundle`).
"""

from synthfactory.provenance.bundle import BUNDLE_FORMAT, BundleReport, verify_bundle
from synthfactory.provenance.canonical import canonical_json, digest, is_canonical
from synthfactory.provenance.checkpoint import SignedCheckpoint
from synthfactory.provenance.errors import (
    ConcurrentWriterError,
    NotCheckpointedError,
    NoteError,
    ProvenanceError,
    SecretInRecordError,
    WitnessRefusedError,
)
from synthfactory.provenance.explain import explain
from synthfactory.provenance.guard import SecretGuard
from synthfactory.provenance.log import (
    AuditLog,
    ConsistencyProof,
    InclusionProof,
    SqliteAuditLog,
)
from synthfactory.provenance.merkle import (
    MemoryTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from synthfactory.provenance.note import (
    NoteSigner,
    NoteVerifier,
    generate_key,
    load_signer,
    load_verifier,
)
from synthfactory.provenance.record import (
    DedupDecision,
    ProvenanceRecord,
    QaEntry,
    ToolCall,
    VerdictEntry,
)
from synthfactory.provenance.verify import Problem, VerificationReport, verify_log
from synthfactory.provenance.witness import DirectoryWitness, Witness

__all__ = [
    "BUNDLE_FORMAT",
    "AuditLog",
    "BundleReport",
    "ConcurrentWriterError",
    "ConsistencyProof",
    "DedupDecision",
    "DirectoryWitness",
    "InclusionProof",
    "MemoryTree",
    "NotCheckpointedError",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "Problem",
    "ProvenanceError",
    "ProvenanceRecord",
    "QaEntry",
    "SecretGuard",
    "SecretInRecordError",
    "SignedCheckpoint",
    "SqliteAuditLog",
    "ToolCall",
    "VerdictEntry",
    "VerificationReport",
    "Witness",
    "WitnessRefusedError",
    "canonical_json",
    "digest",
    "explain",
    "generate_key",
    "is_canonical",
    "leaf_hash",
    "load_signer",
    "load_verifier",
    "node_hash",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
