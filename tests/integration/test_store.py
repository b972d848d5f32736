"""The Lance dataset store and the exports, on real tables."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthfactory.errors import NotFoundError, SynthFactoryError, UserInputError
from synthfactory.store.export import export_table
from synthfactory.store.lance import LanceStore


def _rows(run: str, start: int, n: int) -> list[dict[str, object]]:
    return [
        {
            "item_id": f"{run}-{i}",
            "run_id": run,
            "text": f"t{i}",
            "n": i,
            "meta": {"k": i, "tags": ["a"]},
        }
        for i in range(start, start + n)
    ]


def test_append_versions_and_time_travel(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "d.lance"))
    assert store.version() is None
    v1 = store.append(_rows("r1", 0, 10))
    v2 = store.append(_rows("r2", 10, 5))
    assert v2 > v1
    assert store.read().num_rows == 15
    assert store.read(version=v1).num_rows == 10
    assert store.read(run_id="r2").column("item_id").to_pylist() == [
        f"r2-{i}" for i in range(10, 15)
    ]
    assert store.read().column("meta").to_pylist()[0] == {"k": 0, "tags": ["a"]}
    assert store.present(["r1-3", "r2-12", "nope"]) == {"r1-3", "r2-12"}
    with pytest.raises(NotFoundError):
        store.read(version=99)


def test_later_rows_must_fit_the_schema(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "d.lance"))
    store.append(_rows("r", 0, 2))
    with pytest.raises(SynthFactoryError, match="surprise"):
        store.append([{**_rows("r", 2, 1)[0], "surprise": 1}])
    # A missing field is stored as null, never invented.
    row = _rows("r", 3, 1)[0]
    del row["text"]
    store.append([row])
    assert store.read().column("text").to_pylist()[-1] is None


def test_mixed_types_fall_back_to_json_text(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "d.lance"))
    store.append(
        [{"item_id": "a", "run_id": "r", "v": 1}, {"item_id": "b", "run_id": "r", "v": "x"}]
    )
    assert store.read().column("v").to_pylist() == ["1", '"x"']


def test_exports_round_trip(tmp_path: Path) -> None:
    store = LanceStore(str(tmp_path / "d.lance"))
    store.append(_rows("r", 0, 25))
    table = store.read()
    jsonl = export_table(table, "jsonl", tmp_path / "out" / "d.jsonl")
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert lines == table.to_pylist()
    parquet = export_table(table, "parquet", tmp_path / "out" / "d.parquet")
    assert pq.read_table(parquet).to_pylist() == table.to_pylist()
    hf_dir = export_table(table, "hf", tmp_path / "out" / "hf")
    import datasets

    loaded = datasets.load_from_disk(str(hf_dir))
    assert loaded.num_rows == 25
    assert loaded[3]["meta"] == {"k": 3, "tags": ["a"]}
    with pytest.raises(UserInputError, match="unknown export format"):
        export_table(table, "csv", tmp_path / "x.csv")


def test_read_keeps_only_the_columns_asked_for_that_the_table_has(tmp_path) -> None:
    from synthfactory.store.lance import LanceStore

    store = LanceStore(str(tmp_path / "d.lance"))
    store.append([{"item_id": "a", "run_id": "r", "fact": "x", "other": 1}])
    table = store.read(columns=["item_id", "fact", "not_there"])
    assert table.column_names == ["item_id", "fact"]
    assert store.read().column_names == ["item_id", "run_id", "fact", "other"]
