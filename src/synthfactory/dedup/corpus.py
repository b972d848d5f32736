"""Deduplicate a corpus file (JSON lines or Parquet) with any :class:`DedupIndex`, streaming.

The same engine as the pipeline step, for data made elsewhere: rows are read in batches, each
batch goes through ``index.check_add``, kept rows are written as they come, and dropped rows
(optionally) to a second file with the key of the row they duplicate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from synthfactory.dedup.embedders import Embedder
from synthfactory.dedup.errors import CorpusError, DedupConfigError
from synthfactory.dedup.index import DEFAULT_THRESHOLDS, DedupIndex, Duplicate, ExactIndex

#: Dedup methods by name, as the CLI and recipes spell them.
METHODS = ("exact", "minhash", "semantic")
SUFFIXES = (".jsonl", ".parquet")


@dataclass
class DedupReport:
    """What :func:`dedup_corpus` did."""

    read: int = 0
    """Rows read."""
    kept: int = 0
    """Rows written to the output."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Rows dropped, by method."""
    seconds: float = 0.0
    """Wall time of the whole call."""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data."""
        return {
            "read": self.read,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "seconds": round(self.seconds, 3),
        }


def make_index(
    method: str,
    threshold: float | None = None,
    *,
    num_perm: int = 128,
    shingle: int = 3,
    embedder: Embedder | None = None,
    workdir: Path | None = None,
) -> DedupIndex:
    """The index for ``method`` (one of :data:`METHODS`); ``threshold`` defaults to
    :data:`DEFAULT_THRESHOLDS` (Jaccard for MinHash, cosine for semantic); exact takes none.
    A semantic index past 1e5 vectors keeps them in a Lance table under ``workdir``."""
    if method == "exact":
        if threshold is not None:
            raise DedupConfigError("--threshold does not apply to exact dedup")
        return ExactIndex()
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise DedupConfigError(f"threshold must be in (0, 1], got {threshold}")
    if method == "minhash":
        from synthfactory.dedup.minhash import MinHashIndex

        if num_perm < 2 or shingle < 1:
            raise DedupConfigError(
                f"need num_perm >= 2 and shingle >= 1, got {num_perm}, {shingle}"
            )
        return MinHashIndex(
            DEFAULT_THRESHOLDS["minhash"] if threshold is None else threshold, num_perm, shingle
        )
    if method == "semantic":
        from synthfactory.dedup.semantic import SemanticIndex

        if embedder is None:
            raise DedupConfigError("semantic dedup needs an embedder")
        return SemanticIndex(
            embedder,
            DEFAULT_THRESHOLDS["semantic"] if threshold is None else threshold,
            workdir=workdir,
        )
    raise DedupConfigError(f"unknown dedup method {method!r}; choose one of {', '.join(METHODS)}")


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CorpusError(
            f"{path}: unknown corpus type {suffix or '(none)'!r}; use .jsonl or .parquet"
        )
    return suffix


def read_rows(path: Path, batch_size: int = 4096) -> Iterator[list[dict[str, Any]]]:
    """Rows of a ``.jsonl`` or ``.parquet`` file as dicts, ``batch_size`` at a time."""
    suffix = _check_suffix(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
        except Exception as err:  # pyarrow raises several types for a broken file
            raise CorpusError(f"{path}: not a Parquet file ({err})") from None
        for batch in parquet.iter_batches(batch_size=batch_size):
            yield batch.to_pylist()
        return
    rows: list[dict[str, Any]] = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise CorpusError(
                    f"{path}:{number}: not UTF-8 text (byte {raw[err.start]:#04x} at column "
                    f"{err.start + 1}); save the file as UTF-8"
                ) from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise CorpusError(f"{path}:{number}: not JSON ({err})") from None
            except RecursionError:
                raise CorpusError(f"{path}:{number}: JSON nested too deeply to read") from None
            if not isinstance(row, dict):
                raise CorpusError(f"{path}:{number}: expected a JSON object per line")
            rows.append(row)
            if len(rows) >= batch_size:
                yield rows
                rows = []
    if rows:
        yield rows


class _Writer(Protocol):
    def write(self, rows: list[dict[str, Any]]) -> None: ...
    def close(self) -> None: ...


class _JsonlWriter:
    def __init__(self, path: Path) -> None:
        self._file = path.open("w", encoding="utf-8")

    def write(self, rows: list[dict[str, Any]]) -> None:
        self._file.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)

    def close(self) -> None:
        self._file.close()


class _ParquetWriter:
    """Writes batches to one Parquet file; the first batch fixes the schema."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._writer: Any = None
        self._schema: Any = None

    def write(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not rows:
            return
        try:
            table = pa.Table.from_pylist(rows, schema=self._schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise CorpusError(f"{self._path}: rows do not share one schema ({err})") from None
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self._path, table.schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}), self._path)  # an empty corpus is still a file
            return
        self._writer.close()


def _open_writer(path: Path) -> _Writer:
    if _check_suffix(path) == ".parquet":
        return _ParquetWriter(path)
    return _JsonlWriter(path)


def dedup_corpus(
    input_path: Path,
    output_path: Path,
    method: str | DedupIndex,
    threshold: float | None = None,
    field: str = "text",
    *,
    key_field: str | None = None,
    dropped_path: Path | None = None,
    num_perm: int = 128,
    shingle: int = 3,
    embedder: Embedder | None = None,
    batch_size: int = 4096,
) -> DedupReport:
    """Copy the rows of ``input_path`` whose ``field`` is not a duplicate to ``output_path``.

    ``method`` is a name from :data:`METHODS` (options as in :func:`make_index`) or a ready
    index, for instance one seeded with a dataset's rows. A row's key is its ``key_field``
    value, or its 0-based row number. With ``dropped_path``, dropped rows are written there
    with ``duplicate_of`` (the kept row's key), ``duplicate_method`` and ``similarity``.
    Formats follow the suffixes (``.jsonl`` or ``.parquet``) of each path.
    """
    started = time.perf_counter()
    index = (
        make_index(method, threshold, num_perm=num_perm, shingle=shingle, embedder=embedder)
        if isinstance(method, str)
        else method
    )
    for checked in (output_path, *([dropped_path] if dropped_path else [])):
        _check_suffix(checked)
    report = DedupReport()
    writer = _open_writer(output_path)
    dropped_writer = _open_writer(dropped_path) if dropped_path is not None else None
    try:
        for rows in read_rows(input_path, batch_size):
            keys, texts = _keys_and_texts(rows, report.read, field, key_field, input_path)
            verdicts = index.check_add(keys, texts)
            kept, dropped = _split(rows, verdicts, report)
            report.read += len(rows)
            writer.write(kept)
            if dropped_writer is not None:
                dropped_writer.write(dropped)
    except BaseException:
        # Half a corpus looks like a whole one: leave no output behind after a failure.
        for path in (output_path, dropped_path):
            if path is not None:
                path.unlink(missing_ok=True)
        raise
    finally:
        writer.close()
        if dropped_writer is not None:
            dropped_writer.close()
    report.seconds = time.perf_counter() - started
    return report


def _keys_and_texts(
    rows: list[dict[str, Any]], offset: int, field: str, key_field: str | None, path: Path
) -> tuple[list[str], list[str]]:
    keys, texts = [], []
    for number, row in enumerate(rows, offset):
        text = row.get(field)
        if not isinstance(text, str):
            found = "is missing" if field not in row else f"is {type(text).__name__}, not text"
            raise CorpusError(
                f"{path}: row {number}: field {field!r} {found} "
                f"(fields: {', '.join(sorted(row)) or 'none'}); choose one with --field"
            )
        if key_field is None:
            keys.append(str(number))
        elif key_field in row:
            keys.append(str(row[key_field]))
        else:
            raise CorpusError(f"{path}: row {number}: key field {key_field!r} is missing")
        texts.append(text)
    return keys, texts


def _split(
    rows: list[dict[str, Any]], verdicts: list[Duplicate | None], report: DedupReport
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    kept, dropped = [], []
    for row, verdict in zip(rows, verdicts, strict=True):
        if verdict is None:
            kept.append(row)
            continue
        report.dropped[verdict.method] = report.dropped.get(verdict.method, 0) + 1
        dropped.append(
            {
                **row,
                "duplicate_of": verdict.of,
                "duplicate_method": verdict.method,
                "similarity": round(verdict.similarity, 6),
            }
        )
    report.kept += len(kept)
    return kept, dropped


__all__ = ["METHODS", "DedupReport", "dedup_corpus", "make_index", "read_rows"]
