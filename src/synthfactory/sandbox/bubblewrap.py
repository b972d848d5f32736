"""``BubblewrapSandbox``: the exec-based fallback, for other languages than Python.

Each job is one ``bwrap`` process (``apt-get install bubblewrap``): new user, pid, net,
ipc and uts namespaces, a read-only view of the system and of the interpreter's prefix, a
fresh ``/proc``, ``/dev`` and ``/tmp``, the job directory read-write at ``/job``, the same
seccomp filter as the pool (``--seccomp``), and rlimits through ``prlimit``. Killing
``bwrap`` kills the job's pid namespace, so nothing outlives a job. Slower than the pool
(a fresh process and interpreter per job) and without cgroup limits: no process or memory
limit across a job's processes beyond the rlimits.

Verdicts as in ``results``; ``bwrap`` itself failing to set up is ``infra_error``.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from synthfactory.sandbox import seccomp
from synthfactory.sandbox.detect import IsolationReport
from synthfactory.sandbox.limits import Limits
from synthfactory.sandbox.results import SandboxJob, SandboxResult, truncate
from synthfactory.sandbox.worker import python_read_paths
from synthfactory.verdict import VerdictStatus

_SYSTEM = (
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/alternatives",
)
_MIB = 1024 * 1024


def bwrap_path() -> str | None:
    """Where ``bwrap`` is, or None."""
    return shutil.which("bwrap")


class BubblewrapSandbox:
    """Runs each job as ``argv`` (``{script}`` is replaced by the job's file, named
    ``main`` + ``suffix``) inside ``bwrap``; ``workers`` jobs at a time."""

    def __init__(
        self,
        argv: Sequence[str] = ("python3", "{script}"),
        *,
        suffix: str = ".py",
        workers: int | None = None,
        limits: Limits | None = None,
        read_paths: Sequence[str] | None = None,
    ) -> None:
        bwrap = bwrap_path()
        prlimit = shutil.which("prlimit")
        if bwrap is None or prlimit is None:
            raise FileNotFoundError("bubblewrap needs bwrap and prlimit on PATH")
        self._bwrap = bwrap
        self._prlimit = prlimit
        self.argv = tuple(argv)
        self.suffix = suffix
        self.limits = limits or Limits()
        self.read_paths = tuple(read_paths) if read_paths is not None else python_read_paths()
        self._program = seccomp.build_filter() if seccomp.supported() else None
        self._executor = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
        layers = ["netns", "pidns", "bwrap_fs", "rlimits"]
        if self._program is not None:
            layers.insert(3, "seccomp")
        self._isolation = IsolationReport(tuple(layers))

    @property
    def isolation(self) -> IsolationReport:
        """The layers of every job."""
        return self._isolation

    def _command(
        self, jobdir: str, script: str, timeout_s: float, seccomp_fd: int | None
    ) -> list[str]:
        lim = self.limits
        cpu = math.ceil(timeout_s) + 1
        cmd = [
            self._prlimit,
            f"--cpu={cpu}:{cpu + 1}",
            f"--as={lim.memory_mb * _MIB}",
            f"--fsize={lim.file_size_mb * _MIB}",
            f"--nofile={lim.open_files}",
            "--core=0",
            "--",
            self._bwrap,
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
            "--setenv", "HOME", "/job",
            "--setenv", "TMPDIR", "/tmp",
            "--setenv", "LANG", "C.UTF-8",
            "--uid", "65534",
            "--gid", "65534",
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
        ]  # fmt: skip
        for path in (*_SYSTEM, *self.read_paths):
            cmd += ["--ro-bind-try", path, path]
        cmd += ["--bind", jobdir, "/job", "--chdir", "/job"]
        if seccomp_fd is not None:
            cmd += ["--seccomp", str(seccomp_fd)]
        cmd += ["--", *(a.replace("{script}", f"/job/{script}") for a in self.argv)]
        return cmd

    def _run_one(self, job: SandboxJob) -> SandboxResult:
        with tempfile.TemporaryDirectory(prefix="synthfactory-bwrap-") as tmp:
            jobdir = os.path.join(tmp, "job")
            os.mkdir(jobdir)
            os.chmod(jobdir, 0o777)  # the job's uid inside the namespace must write here
            script = "main" + self.suffix
            Path(jobdir, script).write_text(job.code, encoding="utf-8")
            out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
            fd = None
            if self._program is not None:
                fd = os.memfd_create("seccomp", 0)
                os.write(fd, self._program)
                os.lseek(fd, 0, os.SEEK_SET)
            try:
                return self._execute(
                    job, jobdir, script, fd=fd, out_path=out_path, err_path=err_path
                )
            finally:
                if fd is not None:
                    os.close(fd)

    def _execute(
        self,
        job: SandboxJob,
        jobdir: str,
        script: str,
        *,
        fd: int | None,
        out_path: str,
        err_path: str,
    ) -> SandboxResult:
        cap = self.limits.wall_cap_s(job.timeout_s)
        started = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                self._command(jobdir, script, job.timeout_s, fd),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=() if fd is None else (fd,),
                close_fds=True,
            )
        over_wall = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > cap:
                over_wall = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall_ms = (time.monotonic() - started) * 1000
        proc.returncode = os.waitstatus_to_exitcode(status)
        # bwrap's own rusage: it includes the job only as far as bwrap reaped it.
        cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
        code = proc.returncode
        # bwrap's pid 1 reports a job killed by signal N as exit status 128 + N.
        sig = -code if code < 0 else code - 128 if code > 128 else 0
        stdout = _read_bounded(out_path, self.limits.output_bytes)
        stderr = _read_bounded(err_path, self.limits.output_bytes)
        verdict: VerdictStatus
        if over_wall:
            verdict, reason = "timeout", "hit the wall-clock cap"
        elif sig == signal.SIGSYS:
            verdict, reason = "sandbox_violation", "killed by the seccomp filter"
        elif sig == signal.SIGXCPU:
            verdict, reason = "timeout", f"used more than {job.timeout_s:g} s of CPU time"
        elif code == 0:
            verdict, reason = "pass", ""
        elif code == 1 and stderr.startswith("bwrap:"):
            verdict, reason = "infra_error", stderr.strip()[:500]
        else:
            verdict, reason = "fail", f"exit status {code}"
        return SandboxResult(
            job.id,
            verdict,
            exit_code=code,
            stdout=stdout,
            stderr=stderr,
            cpu_ms=round(cpu_ms, 3),
            wall_ms=round(wall_ms, 3),
            isolation=self._isolation.layers,
            reason=reason,
        )

    def run(self, jobs: Sequence[SandboxJob]) -> list[SandboxResult]:
        """Run ``jobs``, ``workers`` at a time; results in order."""
        return list(self._executor.map(self._run_one, jobs))

    def close(self) -> None:
        """Wait for running jobs and stop the threads."""
        self._executor.shutdown(wait=True)

    def __enter__(self) -> BubblewrapSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_bounded(path: str, limit: int) -> str:
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        data = fh.read(limit)
    return truncate(data, max(0, size - limit), limit)


__all__ = ["BubblewrapSandbox", "bwrap_path"]
