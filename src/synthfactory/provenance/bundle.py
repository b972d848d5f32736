"""Receipts: one item's records, their inclusion proofs and the signed checkpoint, as JSON.

A bundle is checked with nothing but itself (and, to know who vouches for it, the public key
pinned in the run manifest)::

    {
      "format": "synthfactory.provenance.bundle/v1",
      "item_id": "...",
      "public_key": "<name>+<hex key hash>+<base64 key>",
      "checkpoint": "<signed note: origin, size, root, signatures>",
      "records": [{"index": 7, "record": {...}, "proof": ["<base64 hash>", ...]}, ...]
    }

Each record's leaf hash is recomputed from its canonical JSON encoding, so a bundle written
back by another JSON tool must keep numbers as they were (``2.0`` stays ``2.0``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from synthfactory.provenance.canonical import canonical_json
from synthfactory.provenance.checkpoint import SignedCheckpoint
from synthfactory.provenance.errors import NoteError
from synthfactory.provenance.merkle import leaf_hash, verify_inclusion
from synthfactory.provenance.note import NoteVerifier, load_verifier
from synthfactory.provenance.record import ProvenanceRecord

BUNDLE_FORMAT = "synthfactory.provenance.bundle/v1"


def make_bundle(
    item_id: str,
    entries: Sequence[tuple[int, bytes, Sequence[bytes]]],
    checkpoint: SignedCheckpoint,
    public_key: NoteVerifier,
) -> dict[str, Any]:
    """A bundle from ``(leaf index, canonical record bytes, inclusion path)`` entries."""
    return {
        "format": BUNDLE_FORMAT,
        "item_id": item_id,
        "public_key": public_key.vkey(),
        "checkpoint": checkpoint.note,
        "records": [
            {
                "index": index,
                "record": orjson.loads(data),
                "proof": [base64.b64encode(h).decode() for h in path],
            }
            for index, data, path in entries
        ],
    }


@dataclass(frozen=True)
class BundleReport:
    """The outcome of :func:`verify_bundle`: ``problem`` names the first thing wrong."""

    ok: bool
    item_id: str
    records: int
    checkpoint_size: int
    problem: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return (
                f"OK: {self.records} record(s) of item {self.item_id} are in the signed log "
                f"of size {self.checkpoint_size}"
            )
        return f"FAILED: {self.problem}"


def verify_bundle(
    bundle: Mapping[str, Any],
    *,
    public_key: NoteVerifier | str | None = None,
    witness_keys: Sequence[NoteVerifier] = (),
) -> BundleReport:
    """Check a bundle offline: the checkpoint's signature, then every record's inclusion.

    ``public_key`` (recommended: the key pinned in the run manifest) must equal the bundle's
    own; every key in ``witness_keys`` must have cosigned the checkpoint.
    """
    item_id = str(bundle.get("item_id", ""))

    def fail(problem: str, size: int = 0, records: int = 0) -> BundleReport:
        return BundleReport(False, item_id, records, size, problem)

    if bundle.get("format") != BUNDLE_FORMAT:
        return fail(f"not a provenance bundle (format {bundle.get('format')!r})")
    try:
        key = NoteVerifier.from_vkey(str(bundle["public_key"]))
        if public_key is not None and load_verifier(public_key) != key:
            return fail(
                f"the bundle is signed by key {key.name!r} ({key.key_id.hex()}), not by the "
                "pinned public key"
            )
        cp = SignedCheckpoint.parse(str(bundle["checkpoint"]), key)
        for witness in witness_keys:
            SignedCheckpoint.parse(cp.note, witness)
    except (NoteError, KeyError) as err:
        return fail(f"checkpoint: {err}")
    entries = bundle.get("records")
    if not isinstance(entries, list) or not entries:
        return fail("the bundle holds no records", cp.size)
    for n, entry in enumerate(entries):
        try:
            index = int(entry["index"])
            data = canonical_json(entry["record"])
            path = [base64.b64decode(p, validate=True) for p in entry["proof"]]
            record = ProvenanceRecord.from_dict(entry["record"])
        except (KeyError, TypeError, ValueError, binascii.Error) as err:
            return fail(f"record #{n} is malformed: {err}", cp.size, n)
        if record.item_id != item_id:
            return fail(
                f"record #{n} (leaf {index}) belongs to item {record.item_id!r}, not {item_id!r}",
                cp.size,
                n,
            )
        if not verify_inclusion(index, cp.size, leaf_hash(data), path, cp.root):
            return fail(
                f"record #{n} (leaf {index}, step {record.step!r} attempt {record.attempt}) "
                f"is not in the signed tree of size {cp.size}: its bytes or its proof were "
                "changed",
                cp.size,
                n,
            )
    return BundleReport(True, item_id, len(entries), cp.size)


__all__ = ["BUNDLE_FORMAT", "BundleReport", "make_bundle", "verify_bundle"]
