"""``resume_run`` called from Python, with no executor, resumes a run where it ran: a run
started on Ray (by the CLI, with its own Ray settings) carries on on Ray, with the run's
own endpoints.

The resume runs in this process, so this module asks for no shared Ray instance: the
executor starts a private one under the run's own ``temp_dir`` and stops it on close.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from synthfactory import resume_run
from synthfactory.ledger import Ledger
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli, cli_popen, wait_until_served

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

TARGET = 150


def _ray_sessions(temp: str) -> list[str]:
    return sorted(p.name for p in Path(temp).glob("session_2*"))


def test_resume_run_from_python_resumes_on_the_runs_ray_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The executor turns Ray's token authentication off for the private instance it starts
    # (through the environment); monkeypatch puts the variable back afterwards.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    temp = tempfile.mkdtemp(prefix="sfray-", dir="/tmp")
    config = tmp_path / "ray.yaml"
    config.write_text(f"temp_dir: {temp}\nverification:\n  max_actors: 1\n")
    ws = tmp_path / "ws"
    try:
        with FakeServer(FakeServerConfig(latency_s=0.1)) as server:
            proc = cli_popen(
                "run", "hello", "-w", str(ws), "--target", str(TARGET),
                "--endpoint", f"generator={server.url},model=fake-model",
                "--concurrency", "4",
                "--executor", "ray", "--ray-config", str(config), "--json",
            )  # fmt: skip
            wait_until_served(server, proc, ok=20)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 130, err
            (run,) = json.loads(cli("status", "-w", str(ws), "--json").stdout)
            assert run["status"] == "interrupted" and run["stored"] < TARGET
            sessions = _ray_sessions(temp)
            served = server.stats().requests

            summary = asyncio.run(resume_run(run["run_id"], workspace=ws))

            # On a new private Ray instance under the run's own temp_dir, stopped after.
            assert len(_ray_sessions(temp)) == len(sessions) + 1
            assert not ray.is_initialized()
            # On the run's own endpoint: the calls left, and at most those in flight again
            # (hello's verifier rejects a few facts, so the calls may exceed the target:
            # every call the run kept is counted in model_calls, exactly once).
            stats = server.stats()
            assert served < stats.requests <= summary.model_calls + 4
            assert sum(n - 1 for n in stats.by_key.values()) <= 4
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert summary.status == "finished" and summary.stored == TARGET
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        counts = ledger.counts(run["run_id"])
    finally:
        ledger.close()
    assert counts["stored"] == TARGET
    ids = LanceStore(Workspace(ws).dataset_uri("hello")).read().column("item_id").to_pylist()
    assert len(ids) == TARGET == len(set(ids))
