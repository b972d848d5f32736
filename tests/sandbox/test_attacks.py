"""The attack suite: each attack is blocked or contained, with its verdict, and nothing of it
survives the job (no process of a slot uid, no job directory)."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from synthfactory.sandbox import SandboxPool

from .conftest import assert_pool_heals, descendants, run1, settled_uid_procs, slot_pids


@pytest.fixture(autouse=True)
def _nothing_survives(pool: SandboxPool) -> None:
    yield
    assert settled_uid_procs() == [], "a job left a process behind"


def test_connect_to_a_listener_on_loopback_gets_nowhere(pool: SandboxPool) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        result = run1(pool, code)
        assert result.verdict == "fail"
        assert "PermissionError" in result.stderr
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever connected
    finally:
        listener.close()


def test_write_outside_the_job_directory_is_refused(pool: SandboxPool, tmp_path: Path) -> None:
    open_dir = Path(f"/tmp/sf-open-{uuid.uuid4().hex}")
    open_dir.mkdir(mode=0o777)
    open_dir.chmod(0o777)  # world-writable: only Landlock stands in the way
    try:
        targets = [open_dir / "x", Path("/tmp/sf-escape"), Path("/etc/sf-escape")]
        code = f"for p in {[str(t) for t in targets]!r}:\n"
        code += "    try:\n        open(p, 'w').write('x')\n        print('WROTE', p)\n"
        code += "    except OSError as e:\n        print('refused', p, e.errno)\n"
        result = run1(pool, code)
        assert result.verdict == "pass", result.stderr
        assert "WROTE" not in result.stdout
        assert result.stdout.count("refused") == 3
        assert not any(t.exists() for t in targets)
    finally:
        for child in open_dir.iterdir():
            child.unlink()
        open_dir.rmdir()


def test_reading_shadow_or_files_outside_the_allowed_set_is_refused(pool: SandboxPool) -> None:
    secret_dir = Path(f"/tmp/sf-secret-{uuid.uuid4().hex}")
    secret_dir.mkdir(mode=0o755)
    secret_dir.chmod(0o755)
    secret = secret_dir / "secret.txt"
    secret.write_text("TOPSECRET")
    secret.chmod(0o644)  # world-readable: only Landlock stands in the way
    try:
        for path in ("/etc/shadow", str(secret), "/root/.bashrc", "/work/main/pyproject.toml"):
            result = run1(pool, f"print(open({path!r}).read())")
            assert result.verdict == "fail", path
            assert "TOPSECRET" not in result.stdout
            assert "Error" in result.stderr
    finally:
        secret.unlink()
        secret_dir.rmdir()


def test_fork_bomb_is_contained_as_a_violation(pool: SandboxPool) -> None:
    code = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = run1(pool, code, timeout_s=1.0)
    assert result.verdict == "sandbox_violation", result
    assert "process limit" in result.reason
    assert_pool_heals(pool)


def test_memory_bomb_fails_with_memory_error(pool: SandboxPool) -> None:
    code = "chunks = []\nwhile True:\n    chunks.append(b'x' * 10_000_000)\n"
    result = run1(pool, code)
    assert result.verdict == "fail"
    assert "MemoryError" in result.stderr


def test_memory_bomb_across_processes_is_killed_by_the_cgroup(pool: SandboxPool) -> None:
    # Each process stays under RLIMIT_AS (256 MB); together they exceed the cgroup's 256 MB.
    code = (
        "import os, time\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        data = bytearray(150 * 1024 * 1024)\n"
        "        for i in range(0, len(data), 4096):\n"
        "            data[i] = 1\n"
        "        time.sleep(5)\n"
        "        os._exit(0)\n"
        "for _ in range(3):\n"
        "    pid, status = os.wait()\n"
        "    if status:\n"
        "        raise SystemExit(f'child killed: {status}')\n"
    )
    result = run1(pool, code, timeout_s=3.0)
    assert result.verdict == "fail", result


def test_infinite_loop_is_a_cpu_timeout_not_retried(pool: SandboxPool) -> None:
    result = run1(pool, "while True:\n    pass\n", timeout_s=0.5)
    assert result.verdict == "timeout"
    assert "CPU" in result.reason
    assert 500 <= result.cpu_ms < 2000
    assert result.attempts == 1


def test_sleeping_forever_hits_the_wall_cap_and_is_retried_once(pool: SandboxPool) -> None:
    result = run1(pool, "import time\ntime.sleep(60)\n", timeout_s=0.2)
    assert result.verdict == "timeout"
    assert "wall" in result.reason
    assert result.attempts == 2
    assert result.wall_ms < 3000


def test_signalling_the_slot_or_anyone_else_is_refused(pool: SandboxPool) -> None:
    slots_before = slot_pids(pool)
    code = (
        "import os, signal\n"
        "print('slot', os.getppid())\n"
        "for target in (os.getppid(), 1, -1):\n"
        "    try:\n"
        "        os.kill(target, signal.SIGKILL)\n"
        "        print('SENT', target)\n"
        "    except OSError as e:\n"
        "        print('refused', target, e.errno)\n"
    )
    result = run1(pool, code)
    assert result.verdict == "pass", result.stderr
    # kill(-1) reports success even when every target refused (Linux ignores EPERM for
    # it), so what counts is that nobody died: the slot, pid 1, the other slots.
    assert "SENT" not in result.stdout.replace("SENT -1", "")
    assert "refused 1 " in result.stdout
    parent = int(result.stdout.split()[1])  # the zygote of the slot that ran the job
    slot = next(s for s in slots_before if parent in descendants(s))
    assert os.path.exists(f"/proc/{parent}")  # the job's parent survived
    assert os.path.exists(f"/proc/{slot}")  # so did the slot that ran it
    assert set(slot_pids(pool)) == set(slots_before)  # and every other slot
    assert run1(pool, "print('still here')").stdout == "still here\n"


def test_a_daemon_left_behind_is_killed_with_the_job(pool: SandboxPool) -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    result = run1(pool, code)
    assert result.verdict == "pass"
    assert result.leftover >= 1
    assert "leftover" in result.reason
    # The autouse fixture asserts that no process of a slot uid is alive any more.


def test_filling_the_disk_is_bounded_and_the_job_dir_is_removed(pool: SandboxPool) -> None:
    one_big_file = (
        "import os\nprint(os.getcwd(), flush=True)\nopen('big', 'wb').write(b'x' * (64 << 20))\n"
    )
    result = run1(pool, one_big_file)
    assert result.verdict == "fail"
    assert "File too large" in result.stderr or "EFBIG" in result.stderr
    many_files = (
        "import os\nprint(os.getcwd(), flush=True)\n"
        "for i in range(1000):\n    open(f'f{i}', 'wb').write(b'x' * (8 << 20))\n"
    )
    result = run1(pool, many_files, timeout_s=5.0)
    assert result.verdict == "fail"
    assert "No space left" in result.stderr
    jobdir = result.stdout.split()[0]
    # The job dir lives in the slot's private tmpfs: look through the slots' own mounts.
    for pid in slot_pids(pool):
        assert not os.path.exists(f"/proc/{pid}/root{jobdir}")
    assert run1(pool, "open('ok', 'wb').write(b'x' * (8 << 20))").verdict == "pass"  # space back
