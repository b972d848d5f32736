"""Fixtures of the sandbox tests: one shared pool (starting one costs ~0.2 s) and helpers."""

from __future__ import annotations

import os
import time
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


def uid_procs(first: int = UID_BASE, count: int = 8, *, waiting_ok: bool = True) -> list[int]:
    """Pids of processes running as one of the slot uids: there must be none between jobs
    but each slot's waiting child (see :func:`waiting_children`), left out unless
    ``waiting_ok`` is false."""
    waiting = set(waiting_children()) if waiting_ok else set()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                uid = os.stat(f"/proc/{name}").st_uid
            except OSError:
                continue
            if first <= uid < first + count and int(name) not in waiting:
                found.append(int(name))
    return found


def settled_uid_procs(first: int = UID_BASE, count: int = 8, timeout_s: float = 2.0) -> list[int]:
    """:func:`uid_procs`, polled until empty or ``timeout_s``: a slot forks the next job's
    child just after it answers, and until that child is waiting it is not told apart."""
    deadline = time.monotonic() + timeout_s
    while (found := uid_procs(first, count)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    """Every descendant of ``pid`` (a slot's: its zygote, the zygote's child, orphans)."""
    found = []
    for child in _children(pid):
        found += [child, *descendants(child)]
    return found


def _is_waiting_child(pid: int) -> bool:
    """A child forked ahead for the next job: blocked in ``read`` (on its pipe from the
    slot), in a job directory with no script written yet."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        with open(f"/proc/{pid}/syscall") as fh:
            syscall = fh.read().split()[0]
        script = os.path.exists(f"/proc/{pid}/cwd/main.py")
    except (OSError, IndexError):
        return False
    return os.path.basename(cwd).startswith("job-") and syscall == "0" and not script


def waiting_children() -> list[int]:
    """Each slot's (at most one) child waiting for its job, over every pool server that is
    a child of this process."""
    found = []
    for server in _children(os.getpid()):
        for slot in _children(server):
            waiting = [c for c in descendants(slot) if _is_waiting_child(c)]
            assert len(waiting) <= 1, f"slot {slot} has more than one waiting child"
            found += waiting
    return found


def assert_pool_heals(pool: SandboxPool, jobs: int = 2 * WORKERS) -> None:
    """After a fault: ``pool`` is back to ``WORKERS`` live slots (within 5 s) and a batch of
    later jobs, more than one a slot, all pass."""
    deadline = time.monotonic() + 5
    while len(slot_pids(pool)) != WORKERS and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(slot_pids(pool)) == WORKERS, f"the pool did not heal: {slot_pids(pool)}"
    results = pool.run([SandboxJob(f"later-{i}", f"print({i})") for i in range(jobs)])
    assert [(r.verdict, r.stdout) for r in results] == [("pass", f"{i}\n") for i in range(jobs)]


def running_jobs(pool: SandboxPool) -> list[tuple[int, int]]:
    """(slot, job process) of each job process running in ``pool`` now: a process of a
    slot uid that is not a waiting child (the zygote runs as root)."""
    return [
        (slot, pid)
        for slot in slot_pids(pool)
        for pid in descendants(slot)
        if _uid(pid) not in (0, None) and not _is_waiting_child(pid)
    ]


def _uid(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def slot_pids(pool: SandboxPool) -> list[int]:
    """The slot processes of ``pool`` (children of its server; not a dead slot's orphan
    that the server, a subreaper, has yet to reap)."""
    server = pool._proc.pid if pool._proc else None
    if server is None:
        return []
    return [pid for pid in _children(server) if _state(pid) not in ("Z", None)]


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
