"""Two runs on one workspace at once, each in its own process: both finish, each stores
its target exactly once, and the one audit log they share verifies with every row.

Injected: a second ``synthfactory run`` on a workspace while the first is writing to it
(the ledger, the response cache, the Lance dataset and the audit log are shared).
"""

from __future__ import annotations

import json
from pathlib import Path

from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli, cli_popen, wait_until_served

TARGET = 400


def test_two_runs_on_one_workspace_both_finish_and_the_log_verifies(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig(latency_s=0.05, latency_jitter_s=0.05)) as server:

        def start(seed: int):  # type: ignore[no-untyped-def]
            return cli_popen(
                "run", "hello", "--workspace", str(ws), "--target", str(TARGET),
                "--seed", str(seed), "--endpoint", f"generator={server.url},model=fake-model",
                "--json",
            )  # fmt: skip

        first = start(1)
        wait_until_served(server, first, ok=20)  # the first is writing before the second starts
        second = start(2)
        results = [proc.communicate(timeout=300) for proc in (first, second)]
    for proc, (out, err) in zip((first, second), results, strict=True):
        assert proc.returncode == 0, err
        summary = json.loads(out)
        assert summary["status"] == "finished" and summary["stored"] == TARGET
    table = LanceStore(Workspace(ws).dataset_uri("hello")).read()
    ids = table.column("item_id").to_pylist()
    assert len(ids) == 2 * TARGET == len(set(ids))
    runs = table.column("run_id").to_pylist()
    assert sorted(set(runs)) == sorted({json.loads(out)["run_id"] for out, _ in results})
    audited = cli("audit", "verify", "-w", str(ws))
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "every row matches its accept record" in audited.stdout
