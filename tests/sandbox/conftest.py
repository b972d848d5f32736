"""Fixtures of the sandbox tests: one shared pool (starting one costs ~0.2 s) and helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from synthfactory.sandbox import Limits, SandboxJob, SandboxPool, SandboxResult, detect_isolation

UID_BASE = 1_900_000
WORKERS = 2


@pytest.fixture(scope="session")
def isolation_ok() -> None:
    """Skip where this host cannot run the hardened pool at all."""
    report = detect_isolation(uid=UID_BASE)
    if not report.meets_minimum:
        pytest.skip(f"host lacks {report.unmet()}: {report.missing}")


@pytest.fixture(scope="session")
def pool(isolation_ok: None) -> Iterator[SandboxPool]:
    """A small pool with tight limits, shared by the tests of a session."""
    limits = Limits(memory_mb=256, pids=32, disk_mb=32, wall_floor_s=1.0)
    with SandboxPool(WORKERS, limits=limits, uid_base=UID_BASE, jobs_per_slot=50) as p:
        yield p


def run1(pool: SandboxPool, code: str, timeout_s: float = 2.0) -> SandboxResult:
    """Run one job and return its result."""
    (result,) = pool.run([SandboxJob("job", code, timeout_s)])
    return result


def uid_procs(first: int = UID_BASE, count: int = 8) -> list[int]:
    """Pids of processes running as one of the slot uids (there must be none between jobs)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                uid = os.stat(f"/proc/{name}").st_uid
            except OSError:
                continue
            if first <= uid < first + count:
                found.append(int(name))
    return found


def slot_pids(pool: SandboxPool) -> list[int]:
    """The slot processes of ``pool`` (children of its server)."""
    server = pool._proc.pid if pool._proc else None
    if server is None:
        return []
    with open(f"/proc/{server}/task/{server}/children") as fh:
        return [int(p) for p in fh.read().split()]
