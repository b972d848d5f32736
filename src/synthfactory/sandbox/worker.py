"""A slot: one warm interpreter that forks a hardened child per job and watches it.

A slot is forked by the pool server. It enters its namespaces once (an empty network
namespace; a private mount namespace with its tmpfs work area and a readable view of the
interpreter), then serves jobs one at a time from a socket. Per job:

1. ahead of the job, while the slot waits for it: make a fresh job directory (owned by
   the slot's uid) and have the slot's zygote (see ``zygote``) fork the job's child;
   the child: joins the slot's cgroup, new session, rlimits, stdin from /dev/null,
   stdout/stderr to pipes, every other descriptor closed, drops to the slot's uid,
   parent death signal, no_new_privs, its own Landlock ruleset, seccomp; then, with
   every layer in force, it blocks on a pipe;
2. when the job comes: the slot writes the script into that directory and sends the
   job's CPU limit down the pipe; the child lowers ``RLIMIT_CPU`` to it and runs the
   script in its already warm interpreter (no exec, so no interpreter start-up per job);
3. the slot watches the child's CPU time (the whole cgroup) and the wall clock, and keeps
   a bounded prefix of stdout and stderr;
4. when the child is done (or over a limit): kill the whole cgroup, reap, delete the job
   directory, classify (see ``results``), answer, and only then fork the next job's
   child (so nothing of this job is alive when it starts, and the cgroup kill of this
   job cannot reach it).

A child serves exactly one job and is then discarded (it exits after the job, and
one that never got a job exits when the slot closes its pipe or dies): forking ahead
takes fork and setup out of a job's latency without sharing a process between jobs.
The slot itself never forks per job, so its own per-job work copies no pages.

A setup step that fails is reported through a separate pipe closed just before the job's
code runs, so a job can never fake an infrastructure error, nor a result: the socket to
the server is closed in the child before any of its code runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import json
import os
import select
import shutil
import signal
import socket
import struct
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from synthfactory.sandbox import landlock, mounts, seccomp
from synthfactory.sandbox.cgroups import CgroupCounters, JobCgroup
from synthfactory.sandbox.limits import Limits, apply_rlimits, drop_privileges, set_cpu_limit
from synthfactory.sandbox.results import truncate
from synthfactory.sandbox.wire import LineReader
from synthfactory.sandbox.zygote import Zygote

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
#: RLIMIT_NPROC above pids.max when the cgroup limits processes (so the cgroup bites first).
NPROC_SLACK = 8
_SETUP_FAILED = 127
#: What a child writes on its status pipe, and closes it, as its job's code starts (so a
#: child that dies before, with nothing written, is told apart from a job that failed).
_STARTED = b"\x00"
_MAX_FD = 65536
_TICK_S = 0.02
#: What the slot sends a waiting child to start its job: the job's CPU limit in seconds.
_GO = struct.Struct("=d")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_SYSTEM_READ = (
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/mime.types",
    "/sys/devices/system/cpu",
)


@dataclass
class _SlotPrepared:
    """What a slot opens once and every job reuses (see :class:`Slot`)."""

    landlock: landlock.PreparedPaths | None = None
    cgroup_fds: list[int] | None = None


@dataclass(frozen=True)
class SlotSpec:
    """Everything a slot needs, fixed when the server forks it."""

    index: int
    uid: int
    slot_dir: str
    layers: frozenset[str]
    limits: Limits
    landlock_abi: int
    seccomp_program: bytes | None
    read_paths: tuple[str, ...]
    cgroup: JobCgroup | None
    jobs_per_slot: int


def python_read_paths() -> tuple[str, ...]:
    """Where this interpreter and its packages live (read-only for jobs)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(p for p in sys.path if p and os.path.isabs(p))
    real = {os.path.realpath(sys.executable), os.path.dirname(os.path.realpath(sys.executable))}
    return tuple(sorted(p for p in paths | real if os.path.exists(p) and p != "/"))


@functools.cache
def _libc() -> ctypes.CDLL:
    # One dlopen per slot, inherited by its jobs (not one per job).
    return ctypes.CDLL(None, use_errno=True)


def _set_pdeathsig(parent: int | None = None) -> None:
    """Die with the parent; with ``parent`` given, also if it is already gone (the
    signal is only sent for a death after this call)."""
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(_SETUP_FAILED)


def _exit_code_of(err: SystemExit) -> int:
    if err.code is None:
        return 0
    if isinstance(err.code, int):
        return err.code & 0xFF
    print(err.code, file=sys.stderr)
    return 1


def _run_script(path: str, source: str, jobdir: str) -> int:
    """Run ``source`` as ``__main__`` the way ``python path`` would; returns the exit code."""
    import atexit
    import builtins
    import io
    import threading
    import traceback
    import types

    os.environ.clear()
    os.environ.update(
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": jobdir,
            "TMPDIR": jobdir,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace"
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    sys.argv = [path]
    sys.path.insert(0, jobdir)
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    code = 0
    try:
        exec(compile(source, path, "exec"), main.__dict__)
    except SystemExit as err:
        code = _exit_code_of(err)
    except BaseException as err:
        # Drop this function's own frame: the traceback starts in the job's script.
        traceback.print_exception(
            type(err), err, err.__traceback__.tb_next if err.__traceback__ else None
        )
        code = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads, as at exit
        atexit._run_exitfuncs()
    except SystemExit as err:
        code = _exit_code_of(err)
    except BaseException:
        traceback.print_exc()
        code = code or 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code


def _enter_job(
    spec: SlotSpec, jobdir: str, *, parent_pid: int, out_w: int, err_w: int, ruleset_fd: int
) -> None:
    """Apply every layer to the calling (forked) process, in the order that works (the
    cgroup was joined and the Landlock ruleset built in :func:`_job_child` already).
    ``RLIMIT_CPU`` is left unlimited here and set to the job's once the job is known."""
    os.setsid()
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    if devnull != 0:
        os.close(devnull)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    if "rlimits" in spec.layers:
        slack = NPROC_SLACK if "cgroup_pids" in spec.layers else 0
        apply_rlimits(spec.limits, None, nproc_slack=slack)
    os.chdir(jobdir)
    if "uid" in spec.layers:
        drop_privileges(spec.uid, spec.uid)
    # Again after the uid change, which clears it.
    _set_pdeathsig(parent_pid)
    seccomp.set_no_new_privs()
    if "landlock_fs" in spec.layers:
        landlock.restrict_self(ruleset_fd)
    if spec.seccomp_program is not None:
        seccomp.install(spec.seccomp_program)


def _wait_for_job(go_r: int) -> float | None:
    """Block until the slot sends the job's CPU limit; None if it closed the pipe."""
    data = b""
    while len(data) < _GO.size:
        chunk = os.read(go_r, _GO.size - len(data))
        if not chunk:
            return None
        data += chunk
    (timeout_s,) = _GO.unpack(data)
    return float(timeout_s)


def _job_child(
    spec: SlotSpec,
    prepared: _SlotPrepared,
    *,
    jobdir: str,
    script: str,
    parent_pid: int,
    fds: tuple[int, int, int, int],
) -> None:  # pragma: no cover - runs in the forked child
    out_w, err_w, status_w, go_r = fds
    # A child forked ahead may outlive a zygote killed right after the fork: it must not.
    _set_pdeathsig(parent_pid)
    try:
        # Join the cgroup first, through the slot's descriptors: one write per hierarchy.
        if prepared.cgroup_fds is not None:
            JobCgroup.attach_fds(prepared.cgroup_fds)
        elif spec.cgroup is not None:
            spec.cgroup.attach(0)
        # This job's own, fresh ruleset: the slot's pre-opened read-only and device rules
        # plus this process's /proc entry and this job's directory, exactly the rules
        # ``landlock.restrict`` builds. Built while the slot's O_PATH descriptors are
        # still open; enforced (restrict_self) in _enter_job, after the uid drop.
        ruleset_fd = -1
        if prepared.landlock is not None:
            ruleset_fd = landlock.create_ruleset(
                prepared.landlock, read_paths=(f"/proc/{os.getpid()}",), write_paths=(jobdir,)
            )
        # Nothing of the slot may reach the job: the server socket above all, and the
        # cgroup and Landlock path descriptors just used.
        keep = {out_w, err_w, status_w, go_r} | ({ruleset_fd} if ruleset_fd >= 0 else set())
        ordered = sorted(keep)
        os.closerange(3, ordered[0])
        for low, high in zip(ordered, [*ordered[1:], _MAX_FD], strict=True):
            os.closerange(low + 1, high)
        _enter_job(
            spec, jobdir, parent_pid=parent_pid, out_w=out_w, err_w=err_w, ruleset_fd=ruleset_fd
        )
        os.close(out_w)
        os.close(err_w)
        # Every layer is in force: wait for this child's one and only job.
        timeout_s = _wait_for_job(go_r)
        if timeout_s is None:
            os._exit(0)  # discarded unused: the slot is going away
        os.close(go_r)
        if "rlimits" in spec.layers:
            set_cpu_limit(timeout_s)  # lowering a limit needs no privilege
        with open(script, "rb") as fh:
            source = fh.read().decode("utf-8")
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.write(status_w, f"job setup failed: {type(err).__name__}: {err}".encode()[:1000])
        os._exit(_SETUP_FAILED)
    os.write(status_w, _STARTED)
    os.close(status_w)
    code = 1
    try:
        code = _run_script(script, source, jobdir)
    finally:
        os._exit(code)


@dataclass
class _Child:
    """A forked child, confined and waiting for its one job; the slot's ends of its pipes."""

    pid: int
    pidfd: int
    jobdir: str
    script: str
    out_r: int
    err_r: int
    status_r: int
    go_w: int
    reaped: bool = False

    def close(self) -> None:
        """Close the slot's ends (a waiting child then sees end of file and exits)."""
        for name in ("pidfd", "out_r", "err_r", "status_r", "go_w"):
            fd = getattr(self, name)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, -1)


class _Output:
    """A bounded capture of one stream: keeps ``limit`` bytes, counts the rest."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def read(self) -> bool | None:
        """Read what is there: True if data came, False at end of file, None if none yet."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return None
        if not chunk:
            return False
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))
        return True

    def text(self) -> str:
        return truncate(bytes(self.data), self.dropped, self.limit)


def own_children() -> list[int]:
    """The pids of this process's children (its main thread's, which is all of them here)."""
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def _uid_pids(uid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{name}").st_uid == uid:
                    found.append(int(name))
    return found


def _kill_uid(uid: int) -> int:
    """Without a cgroup: kill every process of the slot's uid (from a helper of that uid,
    since ``kill(-1)`` reaches exactly the processes one may signal)."""
    found = len(_uid_pids(uid))
    for _ in range(20):
        if not _uid_pids(uid):
            break
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.005)
    return found


class Slot:
    """The slot's side of the job lifecycle."""

    def __init__(self, spec: SlotSpec) -> None:
        self.spec = spec
        self.jobs_done = 0
        self.children_forked = 0
        self.zygote: Zygote | None = None
        self.requested: str | None = None  # the job directory of the child asked for
        # Opened once, in the slot's namespaces, with the same paths a job used to open
        # itself; each job still gets its own ruleset and joins the group itself.
        self.prepared = _SlotPrepared()
        if "landlock_fs" in spec.layers:
            self.prepared.landlock = landlock.PreparedPaths(
                abi=spec.landlock_abi,
                read_paths=(*_SYSTEM_READ, *spec.read_paths),
                device_paths=_DEVICES,
            )
        self.counters: CgroupCounters | None = None
        if spec.cgroup is not None:
            self.prepared.cgroup_fds = spec.cgroup.open_procs()
            self.counters = CgroupCounters(spec.cgroup)

    def _cpu_ns(self, pid: int) -> int | None:
        if "cgroup_cpu" in self.spec.layers and self.counters is not None:
            return self.counters.cpu_ns()
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return None
        return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")

    def _cleanup(self, uid: int) -> int:
        """Kill whatever of the job is still alive and reap it; returns how many were found."""
        group = self.spec.cgroup
        found = 0
        if group is not None and "cgroup_kill" in self.spec.layers:
            found = group.kill_all()
        elif "uid" in self.spec.layers:
            found = _kill_uid(uid)
        # Orphans were re-parented to this slot (a child subreaper): reap them all, so
        # not even a zombie of the job outlives it. The zygote is the one child to stay.
        keep = {self.zygote.pid} if self.zygote is not None else set()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if set(own_children()) <= keep:
                    break
                time.sleep(0.001)
        return found

    def _limit_counters(self) -> tuple[int, int]:
        counters = self.counters
        if counters is None:
            return (0, 0)
        return (counters.pids_limit_hits(), counters.oom_kills())

    def start(self, *, close_fds: list[int]) -> None:
        """Fork the zygote (once, from the warm slot); ``close_fds`` are the slot's
        descriptors the zygote must not hold (the server socket)."""

        def child_main(jobdir: str, parent: int, fds: tuple[int, int, int, int]) -> None:
            script = os.path.join(jobdir, "main.py")  # pragma: no cover - a job's child
            _job_child(
                self.spec, self.prepared, jobdir=jobdir, script=script, parent_pid=parent, fds=fds
            )

        self.zygote = Zygote(child_main, close_fds=close_fds)

    def close(self) -> None:
        """Stop the zygote and reap it, so that it is gone with the slot (not left to die
        of its parent death signal once the slot has exited)."""
        zygote, self.zygote = self.zygote, None
        if zygote is None:
            return
        zygote.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(zygote.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(zygote.pid, 0)

    def request_child(self) -> None:
        """Have the zygote fork the next job's child now, unless one is asked for
        already: a fresh job directory, and a fresh process that applies every layer and
        then waits for its job. Call only when the last job's cgroup is empty."""
        if self.requested is not None:
            return
        if self.zygote is None:
            raise RuntimeError("the slot's zygote is not started")
        spec = self.spec
        self.children_forked += 1
        jobdir = os.path.join(spec.slot_dir, f"job-{self.children_forked}")
        os.mkdir(jobdir, 0o700)
        if "uid" in spec.layers:
            os.chown(jobdir, spec.uid, spec.uid)
        try:
            self.zygote.request(jobdir)
        except BaseException:
            shutil.rmtree(jobdir, ignore_errors=True)
            raise
        self.requested = jobdir

    def _take_child(self) -> _Child:
        self.request_child()
        assert self.zygote is not None and self.requested is not None
        jobdir, self.requested = self.requested, None
        try:
            forked = self.zygote.receive()
        except BaseException:
            shutil.rmtree(jobdir, ignore_errors=True)
            raise
        return _Child(
            forked.pid,
            forked.pidfd,
            jobdir,
            os.path.join(jobdir, "main.py"),
            forked.out_r,
            forked.err_r,
            forked.status_r,
            forked.go_w,
        )

    def _write_script(self, script: str, code: str) -> None:
        fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(code.encode("utf-8"))
            while view:
                view = view[os.write(fd, view) :]
            if "uid" in self.spec.layers:
                os.fchown(fd, self.spec.uid, self.spec.uid)
        finally:
            os.close(fd)

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one job to completion in the waiting child (forked now if there is none);
        returns the result fields plus ``recycle``."""
        self.jobs_done += 1
        started = time.monotonic()
        before = self._limit_counters()
        cpu0 = self._cpu_ns(os.getpid()) if "cgroup_cpu" in self.spec.layers else 0
        child = self._take_child()
        try:
            self._write_script(child.script, str(job["code"]))
            return self._run_in(job, child, started=started, before=before, cpu0=cpu0)
        finally:
            if not child.reaped and self.zygote is not None:
                # It never ran its job (say, the script could not be written): discard it,
                # and take the zygote's report of its exit. A zygote that is gone fails
                # the next request instead.
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(child.pidfd, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    self.zygote.wait(child.pid)
            child.close()
            shutil.rmtree(child.jobdir, ignore_errors=True)

    def _run_in(
        self,
        job: dict[str, Any],
        child: _Child,
        *,
        started: float,
        before: tuple[int, int],
        cpu0: int | None,
    ) -> dict[str, Any]:
        spec = self.spec
        timeout_s = float(job["timeout_s"])
        pid = child.pid
        with contextlib.suppress(BrokenPipeError):  # it died: the status pipe says so
            os.write(child.go_w, _GO.pack(timeout_s))
        os.close(child.go_w)
        child.go_w = -1
        with os.fdopen(child.status_r, "rb") as fh:
            child.status_r = -1
            status_text = fh.read()
        if status_text == _STARTED:
            setup_error = ""
        elif status_text:
            setup_error = status_text.decode(errors="replace")
        else:
            setup_error = "the job's process died before its job started"
        outputs = [
            _Output(child.out_r, spec.limits.output_bytes),
            _Output(child.err_r, spec.limits.output_bytes),
        ]
        for out in outputs:
            os.set_blocking(out.fd, False)
        over, wall_ms = self._watch(child, outputs, timeout_s, started, cpu0)
        assert self.zygote is not None
        status, cpu_s = self.zygote.wait(pid)
        child.reaped = True
        found = self._cleanup(spec.uid)
        for out in outputs:
            # Every writer is dead by now; stop at end of file, or if one is not.
            while out.read():
                pass
        after = self._limit_counters()
        end_cpu = self._cpu_ns(pid) if "cgroup_cpu" in spec.layers else None
        if end_cpu is not None and cpu0 is not None:
            cpu_ns = end_cpu - cpu0
        else:
            cpu_ns = int(cpu_s * 1e9)
        result: dict[str, Any] = {
            "exit_code": (os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)),
            "stdout": outputs[0].text(),
            "stderr": outputs[1].text(),
            "cpu_ms": round(cpu_ns / 1e6, 3),
            "wall_ms": round(wall_ms, 3),
            "leftover": found,
        }
        verdict, reason = _classify(
            status,
            setup_error=setup_error,
            over=over,
            before=before,
            after=after,
            timeout_s=timeout_s,
        )
        if found:
            reason = (reason + "; " if reason else "") + f"killed {found} leftover process(es)"
        result.update(verdict=verdict, reason=reason, wall_timeout=over == "wall")
        result["recycle"] = (
            verdict not in ("pass", "fail")
            or bool(found)
            or after != before
            or self.jobs_done >= spec.jobs_per_slot
        )
        return result

    def _watch(
        self,
        child: _Child,
        outputs: list[_Output],
        timeout_s: float,
        started: float,
        cpu0: int | None,
    ) -> tuple[str | None, float]:
        """Wait for the job's main process while capturing output and enforcing the CPU
        limit and the wall cap; kills it when over. Returns (which limit, wall ms)."""
        wall_cap = self.spec.limits.wall_cap_s(timeout_s)
        pid, pidfd = child.pid, child.pidfd
        over: str | None = None
        open_outputs = list(outputs)
        while True:
            remaining = started + wall_cap - time.monotonic()
            if remaining <= 0:
                over = "wall"
                break
            ready, _, _ = select.select(
                [pidfd, *(o.fd for o in open_outputs)], [], [], min(_TICK_S, remaining)
            )
            for out in list(open_outputs):
                if out.fd in ready and out.read() is False:
                    open_outputs.remove(out)
            now_cpu = self._cpu_ns(pid)
            if now_cpu is not None and cpu0 is not None and now_cpu - cpu0 > timeout_s * 1e9:
                over = "cpu"
                break
            if pidfd in ready:
                break
        wall_ms = (time.monotonic() - started) * 1000
        if over is not None:
            # Through the pidfd: the zygote, not this slot, reaps the child, so its pid
            # could be reused by the time a plain kill() landed.
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        return over, wall_ms


def _classify(
    status: int,
    *,
    setup_error: str,
    over: str | None,
    before: tuple[int, int],
    after: tuple[int, int],
    timeout_s: float,
) -> tuple[str, str]:
    """(verdict, reason) of a finished job; the table is in ``results``."""
    signaled = os.WIFSIGNALED(status)
    sig = os.WTERMSIG(status) if signaled else 0
    if setup_error:
        return "infra_error", setup_error
    if signaled and sig == signal.SIGSYS:
        return "sandbox_violation", "killed by the seccomp filter (a forbidden syscall)"
    if after[0] > before[0]:
        return "sandbox_violation", "hit the process limit (fork bomb?)"
    if over == "cpu" or (signaled and sig == signal.SIGXCPU):
        return "timeout", f"used more than {timeout_s:g} s of CPU time"
    if over == "wall":
        return "timeout", "hit the wall-clock cap"
    if after[1] > before[1]:
        return "fail", "killed by the memory limit"
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return "pass", ""
    if signaled:
        return "fail", f"killed by signal {signal.Signals(sig).name}"
    return "fail", f"exit status {os.WEXITSTATUS(status)}"


def slot_main(sock: socket.socket, spec: SlotSpec) -> None:  # pragma: no cover - a slot process
    """The loop of a slot process: enter namespaces, then serve jobs until told to stop,
    until recycled, or until the server goes away."""
    _set_pdeathsig()
    # Orphans of a job (double forks) become this slot's children, so it can reap them.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if "tmpfs_quota" in spec.layers:
        mounts.enter_private_mounts()
        if "uid" in spec.layers:
            mounts.expose(spec.read_paths)
        mounts.mount_tmpfs(spec.slot_dir, spec.limits.disk_mb)
    if "netns" in spec.layers:
        mounts.unshare(mounts.CLONE_NEWNET)
    slot = Slot(spec)
    reader = LineReader()
    jobs: deque[dict[str, Any]] = deque()
    # Move the slot's (warm, preloaded) objects out of the collector's reach: a job's
    # garbage collections then do not walk, and so do not copy-on-write, every page of
    # the slot's heap. Only the slot's own objects are frozen; a job's are collected as
    # usual, and no isolation layer depends on the collector.
    gc.collect()
    gc.freeze()
    slot.start(close_fds=[sock.fileno()])
    slot.request_child()
    sock.sendall(b'{"type": "ready"}\n')
    while True:
        job = _next_job(sock, reader, jobs)
        if job is None:
            slot.close()
            return
        try:
            result = slot.run(job)
        except Exception as err:
            result = {
                "verdict": "infra_error",
                "reason": f"slot error: {type(err).__name__}: {err}",
                "recycle": True,
            }
        if not result.get("recycle"):
            # The job is over and its cgroup empty: the next job's child is forked and
            # set up while this answer travels. A failure is not lost: run() asks again.
            with contextlib.suppress(OSError):
                slot.request_child()
        if result.get("recycle"):
            slot.close()
        sock.sendall(json.dumps({"type": "result", "result": result}).encode() + b"\n")
        if result.get("recycle"):
            return


def _next_job(
    sock: socket.socket, reader: LineReader, jobs: deque[dict[str, Any]]
) -> dict[str, Any] | None:  # pragma: no cover - a slot process
    """The next job from the server (None when it is gone)."""
    while not jobs:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return None
        jobs.extend(reader.feed(chunk))
    return jobs.popleft()


__all__ = ["Slot", "SlotSpec", "own_children", "python_read_paths", "slot_main"]
