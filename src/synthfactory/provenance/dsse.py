"""DSSE envelopes (Dead Simple Signing Envelope) for in-toto statements, signed with the
workspace's log key.

**DSSE**: the envelope's payload is the canonical JSON of the statement; the signature is
Ed25519 over ``PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body``
(lengths in ASCII decimal bytes), made with the workspace's log key
(``WORKSPACE/audit/log.key``, via :meth:`NoteSigner.sign`). The ``keyid`` is the key's name and
hex key hash as in its verifier key (``<name>+<hex>``): a hint, never trusted by itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from synthfactory.errors import UserInputError
from synthfactory.provenance.canonical import canonical_json
from synthfactory.provenance.note import NoteSigner, load_verifier

DSSE_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def dsse_envelope(statement: Mapping[str, Any], signer: NoteSigner) -> dict[str, Any]:
    """``statement`` in a DSSE envelope signed with ``signer``'s Ed25519 key."""
    body = canonical_json(statement)
    keyid = f"{signer.name}+{signer.verifier.key_id.hex()}"
    sig = signer.sign(pae(DSSE_PAYLOAD_TYPE, body))
    return {
        "payloadType": DSSE_PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}],
    }


def verify_dsse(envelope: Mapping[str, Any], public_key_path: Path | str) -> bool:
    """True when some signature of ``envelope`` verifies under the Ed25519 public key in
    ``public_key_path`` (a verifier key file, e.g. ``WORKSPACE/audit/log.key.pub``).

    A malformed envelope is False; an unreadable key raises :class:`NoteError`. The keyid
    is only a hint: every signature is checked against the key.
    """
    verifier = load_verifier(Path(public_key_path))
    try:
        payload_type = envelope["payloadType"]
        body = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
    except (KeyError, TypeError, binascii.Error):
        return False
    if not isinstance(payload_type, str):
        return False
    message = pae(payload_type, body)
    return any(verifier.verify(message, sig) for sig in signatures)


def envelope_statement(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The statement inside a DSSE envelope (unverified: call :func:`verify_dsse` first)."""
    value = orjson.loads(base64.b64decode(envelope["payload"], validate=True))
    if not isinstance(value, dict):
        raise UserInputError("the envelope's payload is not a JSON object")
    return value


__all__ = ["DSSE_PAYLOAD_TYPE", "dsse_envelope", "envelope_statement", "pae", "verify_dsse"]
