"""``synthfactory dedup`` in a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from synthfactory.testing import FakeServer
from tests.conftest import cli

LINES = [
    {"id": "a", "text": "The cat sat on the mat by the door."},
    {"id": "b", "text": "THE CAT sat on the mat   by the door."},
    {"id": "c", "text": "A dog barked at the mailman all morning long today."},
]


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    return path


def test_dedup_command_writes_kept_and_dropped_rows(tmp_path: Path) -> None:
    source = _corpus(tmp_path)
    done = cli(
        "dedup", "--input", str(source), "--output", str(tmp_path / "out.jsonl"),
        "--method", "minhash", "--threshold", "0.9", "--num-perm", "64", "--shingle", "2",
        "--key", "id", "--dropped", str(tmp_path / "dropped.jsonl"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "read 3, kept 2, dropped 1 (minhash=1)" in done.stderr
    kept = tmp_path.joinpath("out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in kept] == ["a", "c"]
    dropped = json.loads(tmp_path.joinpath("dropped.jsonl").read_text(encoding="utf-8"))
    assert dropped["duplicate_of"] == "a" and dropped["duplicate_method"] == "minhash"


def test_dedup_command_semantic_through_a_url_embedder(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    source = _corpus(tmp_path)
    done = cli(
        "dedup", "-i", str(source), "-o", str(tmp_path / "out.parquet"), "-m", "semantic",
        "--embedder", fake_server.url, "--threshold", "0.95", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dropped"] == {"semantic": 1}


def test_dedup_command_errors(tmp_path: Path) -> None:
    source = _corpus(tmp_path)
    cases = [
        (["--field", "body"], "field 'body' is missing"),
        (["--method", "minhash", "--threshold", "2"], "threshold must be in (0, 1]"),
        (["--method", "semantic", "--embedder", "ftp://x"], "--embedder must be 'local'"),
    ]
    for extra, message in cases:
        done = cli("dedup", "-i", str(source), "-o", str(tmp_path / "out.jsonl"), *extra)
        assert done.returncode == 2, (extra, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
    done = cli("dedup", "-i", str(source), "-o", str(tmp_path / "out.txt"))
    assert done.returncode == 2 and "unknown corpus type '.txt'" in done.stderr
    done = cli("dedup", "-i", str(source), "-o", str(tmp_path / "o.jsonl"), "-m", "fuzzy")
    assert done.returncode == 2 and "fuzzy" in done.stderr


def test_dedup_command_has_help() -> None:
    done = cli("dedup", "--help")
    assert done.returncode == 0
    assert "Drop duplicate rows" in done.stdout
    for option in ("--input", "--output", "--method", "--threshold", "--field", "--num-perm",
                   "--shingle", "--embedder", "--dropped"):  # fmt: skip
        assert option in done.stdout
