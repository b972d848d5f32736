"""Seed datasets and personas: samplers that draw whole records from data.

``rows("questions.parquet")`` draws one record per item from a JSONL, Parquet or Lance
file (or directory); ``personas([...])`` draws one of a list of persona records, inline or
from such a file. Records are read once per process, on the first draw, and the file's
content digest goes into the recipe's identity: change the data and a resume refuses, as
it does for any other change to the recipe.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUFFIXES = (".jsonl", ".parquet", ".lance")


@dataclass(frozen=True)
class Rows:
    """Draws one record (a dict) uniformly from a data file, or from inline records."""

    path: str | None = None
    fields: tuple[str, ...] | None = None
    inline: tuple[Mapping[str, Any], ...] = ()
    # Filled on the first draw; a cache, not part of the sampler's identity.
    _loaded: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)

    def __call__(self, rng: random.Random) -> dict[str, Any]:
        records = self.records()
        return dict(records[rng.randrange(len(records))])

    def records(self) -> list[dict[str, Any]]:
        """Every record this sampler draws from (read on first use)."""
        if not self._loaded:
            source = (
                [dict(r) for r in self.inline]
                if self.path is None
                else read_records(Path(self.path))
            )
            if self.fields is not None:
                missing = [f for f in self.fields if any(f not in r for r in source)]
                if missing:
                    raise ValueError(
                        f"seed data {self.path or 'records'}: some records lack field(s) {missing}"
                    )
                source = [{f: r[f] for f in self.fields} for r in source]
            if not source:
                raise ValueError(f"seed data {self.path or 'records'} has no records")
            self._loaded.extend(source)
        return self._loaded

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy sent to a worker reads the file itself, rather than carrying its records.
        return (Rows, (self.path, self.fields, self.inline))

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest (includes the data's digest)."""
        if self.path is None:
            return {"rows": {"records": [dict(r) for r in self.inline], "fields": self.fields}}
        return {"rows": {"path": self.path, "sha256": content_digest(Path(self.path))}}


def rows(path: str | Path, *, fields: Sequence[str] | None = None) -> Rows:
    """Draw records from a ``.jsonl``, ``.parquet`` or ``.lance`` file, keeping ``fields``."""
    target = Path(path)
    if target.suffix not in SUFFIXES:
        raise ValueError(
            f"seed data {str(target)!r}: unknown kind {target.suffix!r}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    if not target.exists():
        raise ValueError(f"seed data {str(target)!r} not found")
    sampler = Rows(path=str(target.resolve()), fields=tuple(fields) if fields else None)
    # Read now, so a bad data file is refused when the recipe loads, before a run starts.
    sampler.records()
    return sampler


def personas(records: Sequence[Mapping[str, Any]] | str | Path) -> Rows:
    """Draw one persona per item: inline records (``[{"name": ..., "role": ...}]``) or a file."""
    if isinstance(records, str | Path):
        return rows(records)
    if not records or not all(isinstance(r, Mapping) for r in records):
        raise ValueError("personas() needs a non-empty list of mappings, or a data file")
    return Rows(inline=tuple(dict(r) for r in records))


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL, Parquet or Lance source, as dicts."""
    if path.suffix == ".lance":
        import lance

        return [dict(r) for r in lance.dataset(str(path)).to_table().to_pylist()]
    # JSONL and Parquet read as the dedup command reads a corpus (same errors, with lines).
    from synthfactory.dedup.corpus import read_rows

    return [row for batch in read_rows(path) for row in batch]


def content_digest(path: Path) -> str:
    """sha256 of a file's bytes; for a Lance directory, of its latest version's manifest."""
    if path.is_dir():
        import lance

        ds = lance.dataset(str(path))
        return f"lance-v{ds.version}"
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = ["Rows", "content_digest", "personas", "read_records", "rows"]
