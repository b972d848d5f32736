"""The dataset store fails mid-run (a full disk during a commit): the run stops with the
error, no passed row is lost, and a resume (space freed) stores every row exactly once.

Injected: ``LanceStore.append`` raises ``OSError(ENOSPC)`` on its first call, as a full disk
would. Must hold: the run stops on it (``stopped``, naming the full disk; not a silent
"exhausted"), the ledger still holds every passed item as passed, and ``resume_run`` stores
TARGET rows, all distinct. ``test_disk_full.py`` fills a real tmpfs instead.
"""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path
from typing import Any

import pytest

from synthfactory import EndpointConfig, RunConfig, resume_run, run_recipe
from synthfactory.ledger import Ledger
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace

TARGET = 120


def test_a_full_disk_during_a_commit_stops_the_run_and_loses_no_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    real_append = LanceStore.append
    calls = {"n": 0}

    def full_once(self: LanceStore, rows: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_append(self, rows)

    monkeypatch.setattr(LanceStore, "append", full_once)
    with FakeServer(FakeServerConfig(latency_s=0.0)) as server:
        endpoints = [EndpointConfig(role="generator", url=server.url, model="fake-model")]
        config = RunConfig(target=TARGET, seed=3, commit_rows=50)
        stopped = asyncio.run(run_recipe("hello", workspace=ws, config=config, endpoints=endpoints))
        assert stopped.status == "stopped"
        assert "the disk is full: the dataset 'hello'" in stopped.message
        ledger = Ledger(Workspace(ws).ledger_path)
        try:
            (run,) = ledger.runs()
            assert run.status == "stopped" and "No space left" in run.message
            counts = ledger.counts(run.run_id)
        finally:
            ledger.close()
        assert counts["stored"] == 0 and counts["passed"] > 0  # kept, not dropped
        summary = asyncio.run(resume_run(run.run_id, workspace=ws, endpoints=endpoints))
    assert summary.status == "finished" and summary.stored == TARGET
    ids = LanceStore(Workspace(ws).dataset_uri("hello")).read().column("item_id").to_pylist()
    assert len(ids) == TARGET == len(set(ids))


def test_a_commit_failing_while_the_last_commit_waits_is_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The periodic commit fails slowly while the run's last commit waits for it. It used
    to drop its batch from the queue and leave the error unread: the run then ended
    "exhausted", its rows "passed" forever. Now the error stops the run and the rows stay
    queued."""
    import threading

    from synthfactory.runtime.committer import Committer

    ws = tmp_path / "ws"
    real_append, real_commit = LanceStore.append, Committer.commit
    last_commit_waits = threading.Event()
    calls = {"n": 0}

    async def commit(self: Committer, *, force: bool = False) -> None:
        if force:
            last_commit_waits.set()
        await real_commit(self, force=force)

    def full_once_the_last_commit_waits(self: LanceStore, rows: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:  # the periodic commit: fail only once the last one waits on it
            assert last_commit_waits.wait(30), "the run never reached its last commit"
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_append(self, rows)

    monkeypatch.setattr(Committer, "commit", commit)
    monkeypatch.setattr(LanceStore, "append", full_once_the_last_commit_waits)
    with FakeServer(FakeServerConfig(latency_s=0.05, latency_jitter_s=0.05)) as server:
        endpoints = [EndpointConfig(role="generator", url=server.url, model="fake-model")]
        config = RunConfig(
            target=40, seed=5, commit_rows=1000, commit_interval_s=0.05, max_in_flight=8
        )
        stopped = asyncio.run(run_recipe("hello", workspace=ws, config=config, endpoints=endpoints))
        ledger = Ledger(Workspace(ws).ledger_path)
        try:
            (run,) = ledger.runs()
        finally:
            ledger.close()
        assert stopped.status == run.status == "stopped", (run.status, run.message)
        assert "No space left on device" in run.message
        summary = asyncio.run(resume_run(run.run_id, workspace=ws, endpoints=endpoints))
    assert summary.status == "finished" and summary.stored == 40
    ids = LanceStore(Workspace(ws).dataset_uri("hello")).read().column("item_id").to_pylist()
    assert len(ids) == 40 == len(set(ids))
