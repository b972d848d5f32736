"""dedup_corpus: JSONL and Parquet in and out, dropped rows, clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthfactory.dedup import ExactIndex, dedup_corpus
from synthfactory.dedup.errors import CorpusError, DedupConfigError
from synthfactory.errors import UserInputError

from .planted import planted_corpus

ROWS: list[dict[str, Any]] = [
    {"id": "a", "text": "The cat sat on the mat by the door.", "n": 1},
    {"id": "b", "text": "the  CAT sat on the mat by the door.", "n": 2},
    {"id": "c", "text": "A dog barked at the mailman all morning long.", "n": 3},
    {"id": "d", "text": "A dog barked loudly at the mailman all morning long.", "n": 4},
]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_round_trip_with_dropped_rows(tmp_path: Path) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", ROWS)
    out, dropped = tmp_path / "out.jsonl", tmp_path / "dropped.jsonl"
    report = dedup_corpus(source, out, "exact", key_field="id", dropped_path=dropped)
    assert _read_jsonl(out) == [ROWS[0], ROWS[2], ROWS[3]]  # rows unchanged, order kept
    assert _read_jsonl(dropped) == [
        {**ROWS[1], "duplicate_of": "a", "duplicate_method": "exact", "similarity": 1.0}
    ]
    assert (report.read, report.kept, report.dropped) == (4, 3, {"exact": 1})
    assert report.to_dict()["seconds"] >= 0


def test_parquet_round_trip_streams_in_batches(tmp_path: Path) -> None:
    corpus = planted_corpus(seed=3, bases=200, exact=20, near=20, paraphrases=False)
    table = pa.table({"key": corpus.keys, "body": corpus.texts})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=50)
    report = dedup_corpus(
        tmp_path / "in.parquet",
        tmp_path / "out.parquet",
        "minhash",
        0.8,
        field="body",
        key_field="key",
        dropped_path=tmp_path / "dropped.parquet",
        batch_size=32,  # many batches: duplicates across batches must still be found
    )
    kept = pq.read_table(tmp_path / "out.parquet").to_pylist()
    dropped = pq.read_table(tmp_path / "dropped.parquet").to_pylist()
    assert report.read == 240 and report.kept == len(kept) and len(dropped) == 240 - len(kept)
    assert {row["key"] for row in kept} >= {f"base-{i}" for i in range(200)}
    for row in dropped:
        assert row["duplicate_of"] == corpus.plants[row["key"]][1]
        assert row["similarity"] >= 0.8
    assert report.dropped["minhash"] >= 38  # 20 exact + 20 near plants, at most 2 missed


def test_jsonl_to_parquet_and_a_seeded_index(tmp_path: Path) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", ROWS)
    index = ExactIndex()
    index.check_add(["stored-1"], ["a dog barked at the mailman all morning long."])
    report = dedup_corpus(source, tmp_path / "out.parquet", index, key_field="id")
    kept = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [row["id"] for row in kept] == ["a", "d"] and report.dropped == {"exact": 2}


def test_empty_corpus(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text("\n", encoding="utf-8")
    report = dedup_corpus(tmp_path / "in.jsonl", tmp_path / "out.parquet", "exact")
    assert report.read == 0 and (tmp_path / "out.parquet").is_file()


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ([{"text": "ok"}, {"body": "no text"}], "text", "row 1: field 'text' is missing"),
        ([{"text": 5}], "text", "row 0: field 'text' is int, not text"),
        ([{"text": "ok"}], "content", "choose one with --field"),
    ],
)
def test_missing_field_is_a_clear_error(
    tmp_path: Path, rows: list[dict[str, Any]], field: str, message: str
) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    with pytest.raises(CorpusError, match=message):
        dedup_corpus(source, tmp_path / "out.jsonl", "exact", field=field)
    assert not (tmp_path / "out.jsonl").exists()  # no half-written output


def test_bad_inputs_are_user_errors(tmp_path: Path) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", ROWS)
    with pytest.raises(CorpusError, match=r"unknown corpus type '\.csv'"):
        dedup_corpus(source, tmp_path / "out.csv", "exact")
    with pytest.raises(CorpusError, match="no such file"):
        dedup_corpus(tmp_path / "missing.jsonl", tmp_path / "out.jsonl", "exact")
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\nnot json\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:2: not JSON"):
        dedup_corpus(tmp_path / "bad.jsonl", tmp_path / "out.jsonl", "exact")
    (tmp_path / "bad.parquet").write_text("not parquet", encoding="utf-8")
    with pytest.raises(CorpusError, match="not a Parquet file"):
        dedup_corpus(tmp_path / "bad.parquet", tmp_path / "out.jsonl", "exact")
    for method, threshold, match in [
        ("minhash", 1.5, r"threshold must be in \(0, 1\]"),
        ("semantic", 0.0, r"threshold must be in \(0, 1\]"),
        ("exact", 0.9, "does not apply"),
        ("fuzzy", None, "unknown dedup method 'fuzzy'"),
        ("semantic", 0.9, "needs an embedder"),
    ]:
        with pytest.raises(DedupConfigError, match=match) as err:
            dedup_corpus(source, tmp_path / "out.jsonl", method, threshold)
        assert isinstance(err.value, UserInputError)
