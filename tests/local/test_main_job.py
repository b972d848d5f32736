"""The main job, end to end on the embedded model: no endpoint given, real verified data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli


@pytest.mark.slow
@pytest.mark.timeout(900)  # a busy 2-core machine can slow the embedded model a lot
def test_pyfunc_on_the_embedded_model_makes_verified_examples(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    done = cli(
        "run", "pyfunc", "-w", str(ws), "--target", "2", "--max-items", "24", "--json", timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "embedded model local:qwen2.5-coder-0.5b" in done.stderr
    summary = json.loads(done.stdout)
    assert summary["stored"] == 2
    assert summary["tiers"]["sandbox"]["passed"] >= 2
    assert summary["cost_per_usable"] > 0  # priced per CPU-hour of the local server
    out = tmp_path / "pyfunc.jsonl"
    assert cli("export", "pyfunc", "-w", str(ws), "--out", str(out)).returncode == 0
    for row in map(json.loads, out.read_text().splitlines()):
        assert row["code"]["solution"].startswith("def ")
        assert all(t.startswith("assert ") for t in row["code"]["tests"])
    assert cli("audit", "verify", "-w", str(ws)).returncode == 0
