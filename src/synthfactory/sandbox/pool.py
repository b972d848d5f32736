"""``SandboxPool``: the pre-forked, hardened sandbox, as a client of its own server process.

The server (``server.py``) is a fresh interpreter started with an empty environment and
without Lance or the rest of synthfactory, so a pool can be created from any process,
including one that already imported Lance (not fork-safe): this process only starts a
subprocess and talks to it over two pipes. A reader thread hands each answer to the
thread that asked, so :meth:`SandboxPool.run` is thread-safe.

If the server dies, the jobs in flight come back as ``infra_error`` and the next
:meth:`~SandboxPool.run` starts a new server (the layers are probed again); a server that
cannot be started raises :class:`~synthfactory.sandbox.errors.SandboxBrokenError`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import subprocess
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import IO, Any

from synthfactory.sandbox.boot import clean_env, clean_python_argv
from synthfactory.sandbox.detect import LAYERS, IsolationReport
from synthfactory.sandbox.errors import InsufficientIsolationError, SandboxBrokenError
from synthfactory.sandbox.limits import Limits
from synthfactory.sandbox.results import SandboxJob, SandboxResult, infra_error
from synthfactory.sandbox.server import ServerConfig
from synthfactory.sandbox.wire import encode

#: Modules imported once in the server, so jobs find them warm (copy-on-write after fork).
DEFAULT_PRELOAD: tuple[str, ...] = (
    "collections",
    "dataclasses",
    "decimal",
    "fractions",
    "functools",
    "itertools",
    "json",
    "math",
    "random",
    "re",
    "statistics",
    "string",
    "typing",
    "unittest",
)


class _Call:
    """One :meth:`SandboxPool.run` waiting for its answer."""

    def __init__(self, jobs: Sequence[SandboxJob]) -> None:
        self.jobs = jobs
        self.done = threading.Event()
        self.results: list[SandboxResult] = []


class SandboxPool:
    """Pre-forked hardened workers (one warm interpreter per slot); see the package doc.

    ``workers`` slots (default: CPU count) run jobs in parallel; ``limits`` bound each job;
    a slot is recycled after ``jobs_per_slot`` jobs or any anomaly. Slot ``i`` runs jobs
    as uid ``uid_base + i`` (uids nobody else should use). ``workdir`` holds the job
    directories (default: the system temp dir). ``skip_layers`` turns layers off (for
    hosts where one misbehaves, and for tests); skipped layers are not recorded.

    Untrusted code needs the minimum of ``detect.REQUIRED``: without it the constructor
    raises :class:`~synthfactory.sandbox.errors.InsufficientIsolationError`.
    ``allow_weak_isolation=True`` starts anyway: **only for code you trust**.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        limits: Limits | None = None,
        jobs_per_slot: int = 200,
        allow_weak_isolation: bool = False,
        uid_base: int = 1_900_000,
        workdir: str | Path | None = None,
        skip_layers: Collection[str] = (),
        preload: Sequence[str] = DEFAULT_PRELOAD,
        start_timeout_s: float = 30.0,
    ) -> None:
        unknown = set(skip_layers) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown layers {sorted(unknown)}; known: {LAYERS}")
        self._config = ServerConfig(
            workers=workers or os.cpu_count() or 1,
            limits=limits or Limits(),
            jobs_per_slot=jobs_per_slot,
            uid_base=uid_base,
            workdir=None if workdir is None else str(workdir),
            skip_layers=tuple(skip_layers),
            preload=tuple(preload),
        )
        self._allow_weak = allow_weak_isolation
        self._start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._calls: dict[int, _Call] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._closed = False
        self._isolation = self._start()

    @property
    def isolation(self) -> IsolationReport:
        """The layers probed on this host and in force for every job."""
        return self._isolation

    @property
    def limits(self) -> Limits:
        """The limits of every job."""
        return self._config.limits

    def _start(self) -> IsolationReport:
        proc = subprocess.Popen(
            clean_python_argv("synthfactory.sandbox.server", "main", self._config.to_json()),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=clean_env(),
            close_fds=True,
            start_new_session=True,  # a Ctrl-C for the caller is not the pool's to handle
        )
        assert proc.stdout is not None
        hello = self._read_hello(proc, proc.stdout)
        report = IsolationReport.from_dict(hello["isolation"])
        if not report.meets_minimum and not self._allow_weak:
            self._stop(proc)
            proc.stdout.close()
            missing = "; ".join(f"{k}: {v}" for k, v in report.missing.items())
            raise InsufficientIsolationError(
                "refusing to run untrusted code: this host lacks "
                + ", ".join(report.unmet())
                + f" (found {list(report.layers)}; {missing}). Run as root on Linux with "
                "Landlock and seccomp, or pass allow_weak_isolation=True for trusted code.",
                missing=report.unmet(),
            )
        self._proc = proc
        self._reader = threading.Thread(
            target=self._read_loop, args=(proc, proc.stdout), name="sandbox-reader", daemon=True
        )
        self._reader.start()
        return report

    def _read_hello(self, proc: subprocess.Popen[bytes], stdout: IO[bytes]) -> dict[str, Any]:
        ready, _, _ = select.select([stdout], [], [], self._start_timeout_s)
        line = stdout.readline() if ready else b""
        message: dict[str, Any] = json.loads(line) if line.strip() else {}
        if message.get("type") != "hello":
            self._stop(proc)
            stdout.close()
            why = message.get("message") or "no answer"
            raise SandboxBrokenError(f"the sandbox pool server did not start: {why}")
        return message

    def _read_loop(self, proc: subprocess.Popen[bytes], stdout: IO[bytes]) -> None:
        with stdout:
            self._dispatch_answers(stdout)
        # The server is gone: whatever was in flight is an infrastructure error.
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        proc.wait()
        with self._lock:
            calls, self._calls = self._calls, {}
            if self._proc is proc:
                self._proc = None
        for call in calls.values():
            call.results = [
                infra_error(j.id, "the sandbox pool server died", isolation=self._isolation.layers)
                for j in call.jobs
            ]
            call.done.set()

    def _dispatch_answers(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            message = json.loads(line)
            if message.get("type") != "results":
                continue
            with self._lock:
                call = self._calls.pop(int(message["req"]), None)
            if call is not None:
                call.results = [SandboxResult.from_dict(r) for r in message["results"]]
                call.done.set()

    def run(self, jobs: Sequence[SandboxJob]) -> list[SandboxResult]:
        """Run ``jobs`` on the slots; results in the order of ``jobs``."""
        if not jobs:
            return []
        call = _Call(jobs)
        with self._lock:
            if self._closed:
                raise SandboxBrokenError("the sandbox pool is closed")
            if self._proc is None:
                self._restart_locked()
            proc = self._proc
            assert proc is not None and proc.stdin is not None
            req = next(self._ids)
            self._calls[req] = call
            payload = encode({"type": "run", "req": req, "jobs": [j.to_dict() for j in jobs]})
            try:
                proc.stdin.write(payload)
                proc.stdin.flush()
            except OSError:
                self._calls.pop(req, None)
                return [infra_error(j.id, "the sandbox pool server died") for j in jobs]
        call.done.wait()
        return call.results

    def _restart_locked(self) -> None:
        old = self._reader
        if old is not None and old is not threading.current_thread():
            old.join(timeout=5)
        self._isolation = self._start()

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the server: every slot and job is killed and every cgroup removed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            proc, self._proc = self._proc, None
        if proc is not None:
            self._stop(proc)
        if self._reader is not None:
            self._reader.join(timeout=5)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["DEFAULT_PRELOAD", "SandboxPool"]
