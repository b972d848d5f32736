"""Export a dataset (or one run's rows) to JSONL, Parquet or a Hugging Face dataset, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import orjson
import pyarrow as pa

from synthfactory.errors import MissingDependencyError, UserInputError

ExportFormat = Literal["jsonl", "parquet", "hf"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("jsonl", "parquet", "hf")


def export_table(table: pa.Table, fmt: str, out: Path) -> Path:
    """Write ``table`` to ``out`` in ``fmt``; returns the path written."""
    out = Path(out)
    if fmt not in EXPORT_FORMATS:
        raise UserInputError(f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("wb") as handle:
            for batch in table.to_batches(max_chunksize=4096):
                for row in batch.to_pylist():
                    handle.write(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY))
                    handle.write(b"\n")
        tmp.replace(out)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        tmp = out.with_name(out.name + ".tmp")
        pq.write_table(table, tmp)
        tmp.replace(out)
    else:
        try:
            import datasets
        except ImportError:
            raise MissingDependencyError.for_extra("datasets", "hf") from None
        datasets.Dataset(table).save_to_disk(str(out))
    return out
