"""Forking ahead: each slot forks the next job's child before the job comes. That child is
confined before it waits, serves one job only, and sees nothing of the job before it."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import pytest

from synthfactory.sandbox import SandboxJob, SandboxPool

from .conftest import (
    UID_BASE,
    descendants,
    run1,
    settled_uid_procs,
    slot_pids,
    waiting_children,
)

OWN_UID = UID_BASE + 40  # the one-slot pool of this module


@pytest.fixture(scope="module")
def one_slot(isolation_ok: None) -> Iterator[SandboxPool]:
    """One slot, so consecutive jobs run in the same slot, one after the other."""
    with SandboxPool(1, uid_base=OWN_UID, jobs_per_slot=50) as p:
        yield p


def _waiting(pool: SandboxPool, timeout_s: float = 2.0) -> list[int]:
    slots = slot_pids(pool)
    deadline = time.monotonic() + timeout_s
    while True:
        ours = {pid for slot in slots for pid in descendants(slot)}
        found = [c for c in waiting_children() if c in ours]
        if len(found) == len(slots) or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as fh:
        return {k: v.strip() for k, v in (line.split(":", 1) for line in fh)}


def test_every_job_gets_a_process_of_its_own(one_slot: SandboxPool) -> None:
    code = "import os\nprint(os.getpid())\n"
    results = [run1(one_slot, code) for _ in range(12)]
    results += one_slot.run([SandboxJob(str(i), code) for i in range(12)])
    pids = [int(r.stdout) for r in results]
    assert all(r.verdict == "pass" for r in results)
    assert len(set(pids)) == len(pids), "a process ran two jobs"
    for pid in pids:  # each was discarded after its job
        assert not os.path.exists(f"/proc/{pid}") or _status(pid)["Uid"].split()[0] != str(OWN_UID)


def test_the_waiting_child_is_confined_before_any_job_arrives(one_slot: SandboxPool) -> None:
    run1(one_slot, "pass")
    (child,) = _waiting(one_slot)
    status = _status(child)
    assert status["Uid"].split() == [str(OWN_UID)] * 4
    assert status["CapEff"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"
    with open(f"/proc/{child}/cgroup") as fh:
        assert "synthfactory-sandbox-" in fh.read()
    with open(f"/proc/{child}/limits") as fh:
        limits = {line[:26].strip(): line[26:].split() for line in fh.readlines()[1:]}
    assert limits["Max address space"][0] == str(one_slot.limits.memory_mb << 20)
    # Its CPU limit is the job's, set when the job comes (test_controls checks that).
    assert limits["Max cpu time"][0] == "unlimited"
    # stdin, stdout, stderr, the status pipe and the pipe its job comes down: nothing else.
    assert len(os.listdir(f"/proc/{child}/fd")) == 5


def test_a_job_sees_nothing_of_the_job_before(one_slot: SandboxPool) -> None:
    first = run1(
        one_slot,
        "import json, os, time\n"
        "open('secret', 'w').write('x')\n"
        "os.mkdir('d')\n"
        "if os.fork() == 0:\n"
        "    time.sleep(60)\n"
        "print(json.dumps({'cwd': os.getcwd(), 'pid': os.getpid()}))\n",
    )
    assert first.verdict == "pass" and first.leftover >= 1
    seen = json.loads(first.stdout)
    assert settled_uid_procs(OWN_UID, 1) == []  # the sleeper died with its job
    (waiting,) = _waiting(one_slot)
    second = run1(
        one_slot,
        "import json, os\n"
        f"prev = {seen['cwd']!r}\n"
        "try:\n"
        "    os.listdir(prev)\n"
        "    prev_dir = 'visible'\n"
        "except OSError as e:\n"
        "    prev_dir = type(e).__name__\n"
        "print(json.dumps({'cwd': os.getcwd(), 'pid': os.getpid(),\n"
        "                  'files': sorted(os.listdir('.')), 'prev_dir': prev_dir}))\n",
    )
    assert second.verdict == "pass", second.stderr
    now = json.loads(second.stdout)
    assert now["pid"] == waiting  # the child forked ahead ran it...
    assert now["pid"] != seen["pid"] and now["cwd"] != seen["cwd"]  # ...fresh, in a fresh dir
    assert now["files"] == ["main.py"]
    assert now["prev_dir"] == "FileNotFoundError"


def test_a_waiting_child_that_died_is_an_infra_error_retried(one_slot: SandboxPool) -> None:
    run1(one_slot, "pass")
    (child,) = _waiting(one_slot)
    os.kill(child, signal.SIGKILL)
    result = run1(one_slot, "print('ok')")
    assert (result.verdict, result.stdout, result.attempts) == ("pass", "ok\n", 2)


def test_a_child_whose_job_cannot_start_is_discarded(one_slot: SandboxPool) -> None:
    # A lone surrogate cannot be written as UTF-8: the slot fails before the go signal,
    # kills the waiting child and is recycled; nothing is left and the pool goes on.
    result = run1(one_slot, "print('\ud800')")
    assert result.verdict == "infra_error"
    assert "UnicodeEncodeError" in result.reason
    assert settled_uid_procs(OWN_UID, 1) == []
    assert run1(one_slot, "print('fine')").stdout == "fine\n"


def test_a_dead_zygote_is_an_infra_error_retried_on_a_new_slot(one_slot: SandboxPool) -> None:
    run1(one_slot, "pass")
    (slot,) = slot_pids(one_slot)
    # The zygote: the slot's own child running as root (the next job's child, a
    # grandchild, may not have dropped to the slot's uid yet).
    (zygote,) = [
        p for p in descendants(slot) if _parent(p) == slot and os.stat(f"/proc/{p}").st_uid == 0
    ]
    os.kill(zygote, signal.SIGKILL)
    result = run1(one_slot, "print('ok')")
    assert (result.verdict, result.stdout, result.attempts) == ("pass", "ok\n", 2)
    assert slot not in slot_pids(one_slot)  # that slot was recycled
    assert settled_uid_procs(OWN_UID, 1) == []
