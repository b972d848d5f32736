"""Kill -9 at a random moment, resume, and check nothing was lost, duplicated or paid twice.

The run is a real ``synthfactory`` subprocess talking real HTTP to the fake server, which
counts every request by key; the test maps each stored item to the request key it sent.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import psutil
import pytest

from synthfactory.ledger import Ledger
from synthfactory.recipe.loader import resolve_recipe
from synthfactory.recipe.model import ModelStep
from synthfactory.recipe.render import render_request
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.testing.fake_server import request_key
from synthfactory.workspace import Workspace
from tests.conftest import cli, cli_popen, wait_until_served

TARGET = 400


def _server_key(step: ModelStep, payload: dict[str, object], seed: int, model: str) -> str:
    request = render_request(step, payload, model=model, item_seed=seed, attempt=0)
    return request_key(request.body())


def _only_run(ws: Path) -> str:
    ledger = Ledger(Workspace(ws, create=False).ledger_path)
    try:
        runs = ledger.runs()
        assert len(runs) == 1
        return runs[0].run_id
    finally:
        ledger.close()


@pytest.mark.slow
@pytest.mark.parametrize("trial", [0, 1, 2])
def test_kill9_then_resume_loses_nothing_and_pays_once(tmp_path: Path, trial: int) -> None:
    rng = random.Random(1000 + trial)
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig(latency_s=0.15, latency_jitter_s=0.1, seed=trial)) as server:
        proc = cli_popen(
            "run",
            "hello",
            "--workspace",
            str(ws),
            "--target",
            str(TARGET),
            "--endpoint",
            f"generator={server.url},model=fake-model",
            "--concurrency",
            "24",
            "--json",
        )
        # Wait until the run is under way, then kill it at a random moment.
        wait_until_served(server, proc, ok=5)
        time.sleep(rng.uniform(0.0, 2.0))
        tree = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        # The verification workers and the forkserver must not outlive the driver.
        _, alive = psutil.wait_procs(tree, timeout=10)
        assert alive == [], f"orphaned processes after kill -9: {alive}"

        run_id = _only_run(ws)
        store = LanceStore(Workspace(ws).dataset_uri("hello"))
        before = set()
        if store.version() is not None:
            before = set(store.read(run_id=run_id).column("item_id").to_pylist())
        requests_at_kill = server.stats().requests
        assert len(before) < TARGET, "the kill came too late to test anything"

        done = cli("resume", run_id, "--workspace", str(ws), "--json", timeout=180)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["status"] == "finished"
        assert summary["stored"] == TARGET

        stats = server.stats()

    # The audit log survived the kill too: it, its checkpoints and every row agree.
    audited = cli("audit", "verify", "-w", str(ws))
    assert audited.returncode == 0, audited.stdout + audited.stderr

    table = store.read(run_id=run_id)
    ids = table.column("item_id").to_pylist()
    assert len(ids) == TARGET
    assert len(set(ids)) == TARGET
    assert before <= set(ids)

    # Map every stored item to the request it sent, and count what the server saw.
    recipe, _ = resolve_recipe("hello")
    step = recipe.steps[0]
    assert isinstance(step, ModelStep)
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        items = {i.item_id: i for i in ledger.items(run_id)}
    finally:
        ledger.close()
    for item_id in ids:
        item = items[item_id]
        payload = {k: item.payload[k] for k in ("topic", "audience")}
        key = _server_key(step, payload, item.seed, "fake-model")
        seen = stats.by_key.get(key, 0)
        assert seen >= 1, f"{item_id}: its request never reached the server"
        if item_id in before:
            assert seen == 1, f"{item_id} was stored before the kill but was requested {seen} times"
    # Only requests in flight at the kill (24), or answered in the last ledger flush window
    # (25 ms, a handful at this rate), can have been sent twice.
    repeated = sum(n - 1 for n in stats.by_key.values() if n > 1)
    assert repeated <= 2 * 24
    assert stats.requests <= TARGET + 2 * 24
    assert requests_at_kill <= stats.requests


def test_ctrl_c_marks_the_run_interrupted_and_resume_finishes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig(latency_s=0.2)) as server:
        proc = cli_popen(
            "run",
            "hello",
            "--workspace",
            str(ws),
            "--target",
            "150",
            "--endpoint",
            f"generator={server.url}",
            "--concurrency",
            "8",
            "--json",
        )
        wait_until_served(server, proc, ok=10)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "resume" in err
        run_id = _only_run(ws)
        status = cli("status", run_id, "--workspace", str(ws), "--json")
        assert json.loads(status.stdout)["status"] == "interrupted"

        done = cli("resume", run_id, "--workspace", str(ws), "--json", timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["stored"] == 150
