"""Dedup survives kill -9: after resume, the dataset still holds no repeats."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest

from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli, cli_popen, wait_until_served

RECIPE = """
name: ideas
samplers:
  nonce: {randint: [0, 1000000]}
steps:
  - name: write
    model: {prompt: "Give me an idea. nonce: {{ nonce }}"}
    output: idea
  - name: unique
    dedup: {field: idea, method: exact, patience: 200}
dataset:
  name: ideas
  fields: [nonce, idea]
"""
# 30 ideas in all, chosen by the nonce's last two digits: most items repeat an earlier one.
SCRIPTS = [(rf"nonce: \d*{n:02d}$", f"idea number {n % 30}") for n in range(100)]


@pytest.mark.slow
@pytest.mark.parametrize("trial", [0, 1])
def test_kill9_mid_run_then_resume_stores_no_repeats(tmp_path: Path, trial: int) -> None:
    recipe = tmp_path / "ideas.yaml"
    recipe.write_text(RECIPE)
    ws = tmp_path / "ws"
    config = FakeServerConfig(scripts=SCRIPTS, latency_s=0.05, latency_jitter_s=0.05)
    with FakeServer(config) as server:
        args = ["--workspace", str(ws), "--endpoint", f"generator={server.url},model=m"]
        proc = cli_popen("run", str(recipe), "--target", "25", "--json", *args)
        wait_until_served(server, proc, random.Random(trial).randint(10, 40))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        status = cli("status", "--workspace", str(ws), "--json")
        assert status.returncode == 0, status.stderr
        (run,) = json.loads(status.stdout)
        done = cli("resume", run["run_id"], "--json", *args)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "finished", summary["message"]
    ideas = LanceStore(Workspace(ws).dataset_uri("ideas")).read().column("idea").to_pylist()
    assert len(ideas) == 25 == len(set(ideas))
    assert summary["diversity"]["dedup"]["unique"]["dropped"] > 0
