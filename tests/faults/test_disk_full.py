"""A real full disk in the middle of a run: a small tmpfs mounted under the workspace, filled
once the first rows are stored.

Injected: a 4 MiB tmpfs at ``WORKSPACE/audit`` (the audit log, its keys and witness) or at
``WORKSPACE/datasets`` (the Lance table), filled with a file once 5 rows are stored while
items are still in flight.
Must hold: the run stops (``stopped``, not a crash) with a message naming what could not be
written; the rows stored before are still there; ``synthfactory resume`` while the disk is
still full stops again with that message (exit 1, no traceback); once the filler is deleted,
``resume`` finishes with exactly N rows, all distinct, and ``audit verify`` passes.

Needs root (to mount); skipped with the reason otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from synthfactory import EndpointConfig, RunConfig, resume_run, run_recipe
from synthfactory.cli_exits import exit_codes
from synthfactory.runtime.local import LocalExecutor
from synthfactory.runtime.progress import Progress
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli

N = 60
FILL_AT_STORED = 5


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the block (skips the test if mounting is
    not permitted here)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Write a file into ``directory`` until its disk is full; return the file."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        chunk = b"\0" * 65536
        try:
            while True:
                out.write(chunk)
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
    return filler


def inline() -> LocalExecutor:
    """Verification in this process: a pool's start-up would be most of the test's time."""
    return LocalExecutor(verify_workers=0)


def stored_ids(ws: Path) -> list[str]:
    uri = Workspace(ws).dataset_uri("hello")
    if not Path(uri).exists():
        return []
    return [str(i) for i in LanceStore(uri).read().column("item_id").to_pylist()]


@pytest.mark.parametrize(
    ("on_tmpfs", "names"),
    [
        pytest.param("audit", "the audit log at", id="audit-log"),
        pytest.param("datasets", "the dataset 'hello'", id="dataset"),
    ],
)
def test_a_full_disk_stops_the_run_cleanly_and_resume_completes_it_once_freed(
    tmp_path: Path, on_tmpfs: str, names: str
) -> None:
    ws = tmp_path / "ws"
    with (
        tmpfs(ws / on_tmpfs, "4m") as small,
        FakeServer(FakeServerConfig(latency_s=0.15)) as server,
    ):
        endpoint = EndpointConfig(
            role="generator", url=server.url, model="fake-model", concurrency=2
        )
        filler: list[Path] = []

        def fill_once_rows_are_stored(progress: Progress) -> None:
            if progress.stored >= FILL_AT_STORED and progress.in_flight > 0 and not filler:
                filler.append(fill(small))

        config = RunConfig(target=N, seed=4, commit_rows=5, commit_interval_s=0.1)
        summary = asyncio.run(
            run_recipe(
                "hello",
                workspace=ws,
                config=config,
                endpoints=[endpoint],
                observer=fill_once_rows_are_stored,
                executor=inline(),
            )
        )
        assert filler, f"the run ended before the disk was filled, showing nothing: {summary}"
        assert summary.status == "stopped", summary
        assert f"the disk is full: {names}" in summary.message
        assert "No space left on device" in summary.message or "disk is full" in summary.message
        before = stored_ids(ws)
        server.config.latency_s = 0.0  # the slow endpoint was only there to fill mid-run
        assert FILL_AT_STORED <= len(before) < N, summary.message

        still_full = cli("resume", summary.run_id, "-w", str(ws), "--json")
        assert still_full.returncode == 1, still_full.stderr
        assert "Traceback" not in still_full.stderr
        assert "the disk is full" in json.loads(still_full.stdout)["message"]
        assert set(before) <= set(stored_ids(ws))  # nothing stored is lost

        filler[0].unlink()
        done = asyncio.run(resume_run(summary.run_id, workspace=ws, executor=inline()))
        assert (done.status, done.stored) == ("finished", N), done
        after = stored_ids(ws)
        assert len(after) == len(set(after)) == N
        assert set(before) <= set(after)
        audited = cli("audit", "verify", "-w", str(ws))
        assert audited.returncode == 0, audited.stdout + audited.stderr
    print(f"{on_tmpfs}: {len(before)} rows stored before the disk filled; {N} after resume")


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        sqlite3.OperationalError("database or disk is full"),
        OSError("LanceError(IO): No space left on device (os error 28), writer.rs:254:9"),
    ],
    ids=["os", "sqlite", "lance"],
)
def test_a_command_meeting_a_full_disk_outside_a_run_exits_1_with_one_line(
    error: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    """Injected: each writer's way of saying "disk full", raised inside a command (opening
    a workspace's files, say). Must hold: exit 1 and one ``error:`` line, no traceback."""
    with pytest.raises(typer.Exit) as ended, exit_codes():
        raise error
    assert ended.value.exit_code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the disk is full (") and err.count("\n") == 1
