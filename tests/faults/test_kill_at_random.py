"""Kill -9 at 20 random moments of one run, resume after each: nothing lost, nothing stored
twice, and each kill re-pays at most the requests that were in flight.

Injected: SIGKILL of the CLI process (and with it its verification workers) at a random
moment, from the run's start-up to its commits, 20 times; each time ``resume`` carries on.
Must hold afterwards: exactly TARGET rows, all distinct; every row's request reached the
server; per kill, requests sent again (the same request key a second time) at most the
endpoint's concurrency; every answer that reached the workspace is counted as a paid model
call exactly once (none passed off as a free cache hit because its journal entry died with
the process); the audit log verifies.
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
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli, cli_popen, wait_until_served

TARGET = 2000
CONCURRENCY = 24
KILLS = 20


def _kill(proc: object) -> None:
    assert hasattr(proc, "pid")
    tree = psutil.Process(proc.pid).children(recursive=True)  # type: ignore[attr-defined]
    proc.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
    proc.communicate(timeout=30)  # type: ignore[attr-defined]
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], f"orphaned processes after kill -9: {alive}"


def _repeats(by_key: dict[str, int]) -> int:
    return sum(n - 1 for n in by_key.values() if n > 1)


@pytest.mark.slow
def test_twenty_kills_at_random_moments_lose_nothing_and_repay_only_what_was_in_flight(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261204)
    ws = tmp_path / "ws"
    endpoint = ["--endpoint", "generator={url},model=fake-model"]
    config = FakeServerConfig(latency_s=0.2, latency_jitter_s=0.1, seed=7)
    per_kill: list[int] = []
    with FakeServer(config) as server:
        args = [a.format(url=server.url) for a in endpoint]
        common = ["--workspace", str(ws), "--concurrency", str(CONCURRENCY), "--json"]
        proc = cli_popen("run", "hello", "--target", str(TARGET), *args, *common)
        wait_until_served(server, proc, ok=5)  # the run exists: from here on, resume it
        ledger = Ledger(Workspace(ws).ledger_path)
        try:
            (run,) = ledger.runs()
        finally:
            ledger.close()
        served_at_kill: list[int] = []
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.0, 1.5))
            if proc.poll() is not None:
                break  # it finished before this kill
            _kill(proc)
            served_at_kill.append(server.stats().ok)
            # What the next process sends again was lost by this kill.
            before = _repeats(server.stats().by_key)
            proc = cli_popen("resume", run.run_id, "--workspace", str(ws), "--json")
            # Under way again (or already done) before the next kill is timed.
            deadline = time.monotonic() + 60
            while server.stats().ok <= served_at_kill[-1] and proc.poll() is None:
                assert time.monotonic() < deadline, "the resume never got under way"
                time.sleep(0.02)
            per_kill.append(before)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        summary = json.loads(out)
        assert summary["stored"] == TARGET
        stats = server.stats()
        # Repeats accumulate: turn the running totals into what each kill cost.
        totals = [*per_kill[1:], _repeats(stats.by_key)]
        per_kill = [after - before for before, after in zip(per_kill, totals, strict=True)]

    assert len(per_kill) >= KILLS // 2, "the run finished before most kills: too fast to test"
    # A kill can only lose what was in flight: each re-pays at most the concurrency.
    assert max(per_kill) <= CONCURRENCY, per_kill
    ids = LanceStore(Workspace(ws).dataset_uri("hello")).read().column("item_id").to_pylist()
    assert len(ids) == TARGET == len(set(ids))
    assert stats.requests <= TARGET + sum(per_kill) + 2 * CONCURRENCY
    # Each distinct request was answered, and its answer kept, once: that many paid calls,
    # however many kills fell between an answer and its journal entry.
    assert summary["model_calls"] == len(stats.by_key), (summary["model_calls"], len(stats.by_key))
    assert summary["cache_hits"] == 0
    audited = cli("audit", "verify", "-w", str(ws))
    assert audited.returncode == 0, audited.stdout + audited.stderr
    print(f"kills: {len(per_kill)} (served at each: {served_at_kill})")
    print(f"requests sent again per kill: {per_kill}")


def test_a_second_driver_of_a_run_is_refused_naming_the_holder_and_a_dead_one_is_not(
    tmp_path: Path,
) -> None:
    """The run lock: a live holder is named (pid, host, since when); a holder killed with
    -9 leaves nothing that blocks the resume (the kernel drops a dead process's lock)."""
    import os
    import socket

    from synthfactory.errors import WorkspaceError

    workspace = Workspace(tmp_path / "ws")
    held = workspace.lock_run("run-x")
    try:
        with pytest.raises(WorkspaceError) as refused:
            workspace.lock_run("run-x")
        message = str(refused.value)
        assert f"pid {os.getpid()} on {socket.gethostname()}, since " in message
        assert "wait for it, or stop it first" in message
    finally:
        held.close()
    workspace.lock_run("run-x").close()  # released: taken again at once

    with FakeServer(FakeServerConfig(latency_s=0.2)) as server:
        proc = cli_popen(
            "run", "hello", "--workspace", str(tmp_path / "w2"), "--target", "200",
            "--endpoint", f"generator={server.url},model=fake-model",
            "--concurrency", "4", "--json",
        )  # fmt: skip
        wait_until_served(server, proc, ok=3)
        ledger = Ledger(Workspace(tmp_path / "w2").ledger_path)
        try:
            (run,) = ledger.runs()
        finally:
            ledger.close()
        second = cli("resume", run.run_id, "--workspace", str(tmp_path / "w2"), "--json")
        assert second.returncode != 0
        assert f"pid {proc.pid} on " in second.stderr, second.stderr
        w2 = ["--workspace", str(tmp_path / "w2")]
        live = json.loads(cli("status", run.run_id, *w2, "--json").stdout)
        assert live["status"] == "running"
        _kill(proc)
        # Its driver is gone: the run must not read as "running" forever.
        dead = json.loads(cli("status", run.run_id, *w2, "--json").stdout)
        assert dead["status"] == "interrupted" and "driving this run is gone" in dead["message"]
        table = cli("status", run.run_id, *w2).stdout
        assert f"resume with: synthfactory resume {run.run_id}" in table
        (listed,) = json.loads(cli("status", *w2, "--json").stdout)
        assert listed["status"] == "interrupted"
        done = cli("resume", run.run_id, "--workspace", str(tmp_path / "w2"), "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["stored"] == 200
