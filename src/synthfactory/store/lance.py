"""A :class:`DatasetStore` on a Lance table: atomic appends, time travel, readable by DuckDB,
polars and Hugging Face ``datasets`` while a run is still writing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from synthfactory.errors import NotFoundError, SynthFactoryError


class LanceStore:
    """One dataset as one Lance table at ``uri``.

    The schema is fixed by the first commit: field types are inferred by Arrow (strings,
    numbers, nested structs and lists); a field whose values mix types is stored as JSON
    text. Later rows are converted to that schema; a field the schema does not have is an
    error, never silently dropped.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def _dataset(self, version: int | None = None) -> Any:
        import lance

        if not Path(self.uri).exists():
            return None
        return lance.dataset(self.uri, version=version)

    def version(self) -> int | None:
        """The latest table version, ``None`` before the first commit."""
        ds = self._dataset()
        return None if ds is None else int(ds.version)

    def append(self, rows: Sequence[dict[str, Any]]) -> int:
        """Append ``rows`` atomically; returns the new version."""
        import lance

        if not rows:
            raise ValueError("append() needs at least one row")
        existing = self._dataset()
        if existing is None:
            table = _infer_table(rows)
            ds = lance.write_dataset(table, self.uri, mode="create")
        else:
            table = _conform(rows, existing.schema)
            ds = lance.write_dataset(table, self.uri, mode="append")
        return int(ds.version)

    def present(self, item_ids: Iterable[str]) -> set[str]:
        """The subset of ``item_ids`` already stored."""
        ids = sorted(set(item_ids))
        ds = self._dataset()
        if ds is None or not ids:
            return set()
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in chunk)
            table = ds.to_table(columns=["item_id"], filter=f"item_id IN ({quoted})")
            found.update(table.column("item_id").to_pylist())
        return found

    def read(
        self,
        *,
        run_id: str | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The table at ``version`` (default latest), optionally only ``run_id``'s rows and
        only those of ``columns`` the table has."""
        try:
            ds = self._dataset(version)
        except ValueError as err:
            raise NotFoundError(f"dataset {self.uri} has no version {version}: {err}") from None
        if ds is None:
            raise NotFoundError(f"dataset {self.uri} does not exist yet")
        names = None if columns is None else [c for c in columns if c in ds.schema.names]
        if run_id is None:
            return ds.to_table(columns=names)
        return ds.to_table(columns=names, filter=f"run_id = '{run_id}'")


def _infer_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    names: list[str] = []
    for row in rows:
        for key in row:
            if key not in names:
                names.append(key)
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array([_as_json(v) for v in values], type=pa.string())
        if pa.types.is_null(columns[name].type):
            # All nulls in the first batch: keep the column, as text, so later values fit.
            columns[name] = pa.array([_as_json(v) for v in values], type=pa.string())
    return pa.table(columns)


def _conform(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    known = set(schema.names)
    extra = {k for row in rows for k in row} - known
    if extra:
        raise SynthFactoryError(
            f"rows have field(s) {sorted(extra)} that the dataset table does not "
            f"({sorted(known)}); declare the dataset's fields in the recipe, or use a new dataset"
        )
    columns = []
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            values = [v if v is None or isinstance(v, str) else _as_json(v) for v in values]
        try:
            columns.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise SynthFactoryError(
                f"field {field.name!r} does not fit the dataset's type {field.type}: {err}"
            ) from None
    return pa.Table.from_arrays(columns, schema=schema)


def _as_json(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
