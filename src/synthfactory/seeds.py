"""Deterministic seeds: every random draw of a run derives from the run seed and a path."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object, bits: int = 63) -> int:
    """A deterministic seed from ``parts`` (run seed, item index, step, attempt...)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - bits)


__all__ = ["derive_seed"]
