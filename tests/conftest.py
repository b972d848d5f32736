"""Shared fixtures: a fake endpoint on loopback, a workspace, a CLI runner in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthfactory.testing import FakeServer, FakeServerConfig


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A fake OpenAI-compatible server on 127.0.0.1, stopped after the test."""
    with FakeServer(FakeServerConfig(latency_s=0.0)) as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace directory."""
    return tmp_path / "ws"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no inherited workspace, no inherited keys."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SYNTHFACTORY_") and not k.endswith("_API_KEY")
    }
    env.update(extra)
    return env


def cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``synthfactory ARGS`` in a real subprocess and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "synthfactory.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(),
        check=False,
    )


#: Runs the CLI with SIGINT at its default. A test run started in the background
#: (``pytest &``) hands its children an ignored SIGINT, which Python then keeps ignoring, so
#: Ctrl-C tests would depend on how the suite was launched. Reset, then exec (an exec keeps
#: a default disposition); a wrapper rather than ``preexec_fn``, which is unsafe in a
#: process with threads (the fake server runs in one).
_FROM_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'synthfactory.cli', *sys.argv[1:]])"
)


def cli_popen(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``synthfactory ARGS`` in a real subprocess without waiting (SIGINT reaches it
    as it would from a terminal, however the tests were launched)."""
    return subprocess.Popen(
        [sys.executable, "-c", _FROM_A_TERMINAL, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or cli_env(),
    )


def wait_until_served(server: FakeServer, proc: subprocess.Popen[str], ok: int) -> None:
    """Block until ``server`` has answered ``ok`` requests of the run in ``proc`` (60 s)."""
    import time

    deadline = time.monotonic() + 60
    while server.stats().ok < ok:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never got under way"
        time.sleep(0.02)
