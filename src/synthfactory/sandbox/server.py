"""The pool server: a clean process that probes the host, forks the slots and schedules jobs.

Started by :class:`~synthfactory.sandbox.pool.SandboxPool` through ``boot`` (a fresh
interpreter that never imported Lance or the rest of synthfactory, with an empty
environment) and spoken to over its stdin/stdout, one JSON message per line:

* it answers ``hello`` (the isolation report) or ``error`` once at start;
* client ``{"type": "run", "req": n, "jobs": [...]}`` gets ``{"type": "results", "req": n,
  "results": [...]}`` once every job of the request is done, in the request's order;
* end of file on stdin (the client closed, or died) shuts everything down: slots killed,
  cgroups killed and removed, work directory removed.

Scheduling: any idle slot takes the next job. An ``infra_error`` is retried up to twice,
on a slot other than the one that failed; a wall-clock timeout (maybe load, not the code)
is retried once on another slot. A slot that does not answer within its job's wall cap
plus a grace period is killed with its cgroup, and its job counts as an infra error.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthfactory.sandbox import cgroups, seccomp
from synthfactory.sandbox.detect import IsolationReport, probe_layers
from synthfactory.sandbox.limits import Limits
from synthfactory.sandbox.wire import LineReader, encode, write_all
from synthfactory.sandbox.worker import SlotSpec, own_children, python_read_paths, slot_main

_MAX_INFRA_ATTEMPTS = 3
_MAX_STARTUP_FAILURES = 5
_GRACE_S = 10.0
_CGROUP_PREFIX = "synthfactory-sandbox-"
_PR_SET_CHILD_SUBREAPER = 36


class SlotStartError(RuntimeError):
    """Slots die before they are ready (reported to the client, which stops)."""


@dataclass(frozen=True)
class ServerConfig:
    """What the client asks for (JSON over argv)."""

    workers: int
    limits: Limits
    jobs_per_slot: int
    uid_base: int
    workdir: str | None
    skip_layers: tuple[str, ...]
    preload: tuple[str, ...]

    def to_json(self) -> str:
        """The argv form."""
        return json.dumps(
            {
                "workers": self.workers,
                "limits": self.limits.to_dict(),
                "jobs_per_slot": self.jobs_per_slot,
                "uid_base": self.uid_base,
                "workdir": self.workdir,
                "skip_layers": list(self.skip_layers),
                "preload": list(self.preload),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(
            workers=int(data["workers"]),
            limits=Limits.from_dict(data["limits"]),
            jobs_per_slot=int(data["jobs_per_slot"]),
            uid_base=int(data["uid_base"]),
            workdir=data["workdir"],
            skip_layers=tuple(data["skip_layers"]),
            preload=tuple(data["preload"]),
        )


@dataclass
class _Pending:
    req: int
    index: int
    job: dict[str, Any]
    attempts: int = 0
    wall_retried: bool = False
    avoid: set[int] = field(default_factory=set)


@dataclass
class _SlotHandle:
    serial: int
    index: int
    pid: int
    sock: socket.socket
    reader: LineReader = field(default_factory=LineReader)
    ready: bool = False
    job: _Pending | None = None
    deadline: float = 0.0


def _clean_stale_groups(layout: cgroups.CgroupLayout) -> None:
    """Remove the groups of pool servers that died without cleaning up."""
    for base in layout.bases.values():
        for path in base.glob(f"{_CGROUP_PREFIX}*"):
            match = re.fullmatch(rf"{_CGROUP_PREFIX}(\d+)", path.name)
            if match is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(match.group(1)), 0)
                continue  # its server is alive
            stale = cgroups.CgroupLayout(layout.version, {"x": path})
            for slot_dir in path.iterdir():
                if slot_dir.is_dir():
                    cgroups.JobCgroup(stale, slot_dir.name).remove()
                    with contextlib.suppress(OSError):
                        slot_dir.rmdir()
            with contextlib.suppress(OSError):
                path.rmdir()


def _reap_orphans() -> None:
    """Reap whatever of a dead slot was re-parented here (this process is a subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale_dirs(workdir: str) -> None:
    """Remove the work directories of pool servers that died without cleaning up."""
    for path in Path(workdir).glob(f"{_CGROUP_PREFIX}*-*"):
        match = re.fullmatch(rf"{_CGROUP_PREFIX}(\d+)-\w+", path.name)
        if match is not None and path.is_dir() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


class PoolServer:
    """The scheduling loop (single-threaded, so forking slots from it is safe)."""

    def __init__(
        self, config: ServerConfig, report: IsolationReport, proto_in: int, proto_out: int
    ) -> None:
        self.config = config
        self.report = report
        self.layers = frozenset(report.layers)
        self.proto_in = proto_in
        self.proto_out = proto_out
        workdir = config.workdir or tempfile.gettempdir()
        _clean_stale_dirs(workdir)
        self.base_dir = tempfile.mkdtemp(prefix=f"{_CGROUP_PREFIX}{os.getpid()}-", dir=workdir)
        os.chmod(self.base_dir, 0o711)
        self.program = seccomp.build_filter() if "seccomp" in self.layers else None
        self.read_paths = python_read_paths()
        self.layout: cgroups.CgroupLayout | None = None
        if self.layers & {"cgroup_pids", "cgroup_memory", "cgroup_cpu", "cgroup_kill"}:
            found = cgroups.discover()
            if found is not None:
                _clean_stale_groups(found)
                self.layout = cgroups.make_base(found, f"{_CGROUP_PREFIX}{os.getpid()}")
        self.groups: dict[int, cgroups.JobCgroup] = {}
        self.slots: dict[int, _SlotHandle] = {}
        self.serials = itertools.count(1)
        self.queue: deque[_Pending] = deque()
        self.requests: dict[int, list[dict[str, Any] | None]] = {}
        self.startup_failures = 0

    # -- slots -----------------------------------------------------------------------------

    def _group(self, index: int) -> cgroups.JobCgroup | None:
        if self.layout is None:
            return None
        if index not in self.groups:
            group = cgroups.JobCgroup(self.layout, f"slot-{index}")
            limits = self.config.limits
            group.create(
                pids_max=limits.pids if "cgroup_pids" in self.layers else None,
                memory_bytes=limits.memory_mb * 1024 * 1024
                if "cgroup_memory" in self.layers
                else None,
            )
            self.groups[index] = group
        return self.groups[index]

    def spawn(self, index: int) -> None:
        """Fork slot ``index`` (again)."""
        slot_dir = os.path.join(self.base_dir, f"slot-{index}")
        os.makedirs(slot_dir, mode=0o711, exist_ok=True)
        spec = SlotSpec(
            index=index,
            uid=self.config.uid_base + index,
            slot_dir=slot_dir,
            layers=self.layers,
            limits=self.config.limits,
            landlock_abi=self.report.landlock_abi,
            seccomp_program=self.program,
            read_paths=self.read_paths,
            cgroup=self._group(index),
            jobs_per_slot=self.config.jobs_per_slot,
        )
        parent, child = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the slot process
            code = 0
            try:
                parent.close()
                os.closerange(3, child.fileno())
                os.closerange(child.fileno() + 1, 65536)
                slot_main(child, spec)
            except BaseException as err:
                print(f"sandbox slot {index} died: {type(err).__name__}: {err}", file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        child.close()
        parent.setblocking(False)
        serial = next(self.serials)
        self.slots[serial] = _SlotHandle(serial, index, pid, parent)

    def _retire(self, slot: _SlotHandle, *, kill: bool) -> None:
        """Forget a slot, kill it if asked, clean its group, and start a replacement."""
        self.slots.pop(slot.serial, None)
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.pid, signal.SIGKILL)
        slot.sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(slot.pid, 0)
        group = self.groups.get(slot.index)
        if group is not None:
            with contextlib.suppress(OSError, TimeoutError):
                group.kill_all()
        _reap_orphans()
        if slot.job is not None:
            job, slot.job = slot.job, None
            self._finish_or_retry(job, slot, {"verdict": "infra_error", "reason": "slot died"})
        # A slot that cannot even start will not start next time either: stop, loudly.
        self.startup_failures = 0 if slot.ready else self.startup_failures + 1
        if self.startup_failures >= _MAX_STARTUP_FAILURES:
            raise SlotStartError(f"sandbox slots failed to start {self.startup_failures} times")
        self.spawn(slot.index)

    # -- jobs ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        idle = [s for s in self.slots.values() if s.ready and s.job is None]
        while self.queue and idle:
            pending = self.queue[0]
            choice = next((s for s in idle if s.serial not in pending.avoid), None)
            if choice is None:
                busy_elsewhere = any(
                    s.serial not in pending.avoid for s in self.slots.values() if s not in idle
                )
                if busy_elsewhere:
                    return  # wait for a slot it has not failed on
                choice = idle[0]
            self.queue.popleft()
            idle.remove(choice)
            pending.attempts += 1
            choice.job = pending
            cap = self.config.limits.wall_cap_s(float(pending.job["timeout_s"]))
            choice.deadline = time.monotonic() + cap + _GRACE_S
            try:
                choice.sock.sendall(encode(pending.job))
            except OSError:
                self._retire(choice, kill=True)

    def _finish_or_retry(
        self, pending: _Pending, slot: _SlotHandle, result: dict[str, Any]
    ) -> None:
        verdict = result.get("verdict")
        if verdict == "infra_error" and pending.attempts < _MAX_INFRA_ATTEMPTS:
            pending.avoid.add(slot.serial)
            self.queue.appendleft(pending)
            return
        if verdict == "timeout" and result.get("wall_timeout") and not pending.wall_retried:
            pending.wall_retried = True
            pending.avoid.add(slot.serial)
            self.queue.appendleft(pending)
            return
        result = {k: v for k, v in result.items() if k not in ("wall_timeout", "recycle")}
        result.update(
            id=pending.job["id"], attempts=pending.attempts, isolation=list(self.report.layers)
        )
        results = self.requests[pending.req]
        results[pending.index] = result
        if all(r is not None for r in results):
            del self.requests[pending.req]
            write_all(
                self.proto_out,
                encode({"type": "results", "req": pending.req, "results": results}),
            )

    def _on_slot_message(self, slot: _SlotHandle, message: dict[str, Any]) -> None:
        if message.get("type") == "ready":
            slot.ready = True
            return
        result = message["result"]
        pending, slot.job = slot.job, None
        if result.get("recycle"):
            # Replace the slot before answering, so the pool is whole when the caller hears.
            self._retire(slot, kill=False)
        if pending is not None:
            self._finish_or_retry(pending, slot, result)

    def _on_client_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "run":
            return
        jobs = message["jobs"]
        req = int(message["req"])
        self.requests[req] = [None] * len(jobs)
        if not jobs:
            del self.requests[req]
            write_all(self.proto_out, encode({"type": "results", "req": req, "results": []}))
        for index, job in enumerate(jobs):
            self.queue.append(_Pending(req, index, job))

    def spawn_all(self) -> None:
        """Fork every slot (before the client is told the pool is up)."""
        for index in range(self.config.workers):
            self.spawn(index)

    def serve(self) -> None:
        """Run until the client closes its end."""
        client = LineReader()
        while True:
            # A recycled slot's zygote dies just after its slot, and comes here.
            _reap_orphans()
            self._dispatch()
            now = time.monotonic()
            for slot in list(self.slots.values()):
                if slot.job is not None and now > slot.deadline:
                    self._retire(slot, kill=True)
            by_fd = {s.sock.fileno(): s for s in self.slots.values()}
            ready, _, _ = select.select([self.proto_in, *by_fd], [], [], 0.5)
            for fd in ready:
                if fd == self.proto_in:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        return
                    for message in client.feed(chunk):
                        self._on_client_message(message)
                    continue
                slot = by_fd[fd]
                if slot.serial not in self.slots:
                    continue
                try:
                    chunk = slot.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self._retire(slot, kill=True)
                    continue
                for message in slot.reader.feed(chunk):
                    self._on_slot_message(slot, message)

    def shutdown(self) -> None:
        """Kill every slot and job, remove the cgroups and the work directory."""
        for slot in list(self.slots.values()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.pid, signal.SIGKILL)
        for slot in list(self.slots.values()):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(slot.pid, 0)
            slot.sock.close()
        self.slots.clear()
        for group in self.groups.values():
            group.remove()
        # What a killed slot left (its job, or the child it forked for the next job) came
        # here: once this returns, no process of the pool is left.
        deadline = time.monotonic() + 3.0
        while (left := own_children()) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _reap_orphans()
            time.sleep(0.001)
        if self.layout is not None:
            cgroups.remove_base(self.layout)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def main(argv: list[str]) -> None:  # pragma: no cover - the server process
    """Entry point of the server process (see ``boot``)."""
    config = ServerConfig.from_json(argv[0])
    # The protocol moves off fds 0 and 1 so no slot or job can inherit it by accident.
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Orphans of a slot that died come here, to be killed and reaped (see shutdown).
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if "lance" in sys.modules:
        write_all(proto_out, encode({"type": "error", "message": "lance imported"}))
        return
    for name in config.preload:
        with contextlib.suppress(ImportError):
            __import__(name)
    server: PoolServer | None = None
    try:
        probe_dir = tempfile.mkdtemp(prefix="synthfactory-probe-", dir=config.workdir)
        try:
            report = probe_layers(uid=config.uid_base, workdir=probe_dir, skip=config.skip_layers)
        finally:
            shutil.rmtree(probe_dir, ignore_errors=True)
        server = PoolServer(config, report, proto_in, proto_out)
        server.spawn_all()
        write_all(proto_out, encode({"type": "hello", "isolation": report.to_dict()}))
        server.serve()
    except Exception as err:
        with contextlib.suppress(OSError):
            message = f"{type(err).__name__}: {err}"
            write_all(proto_out, encode({"type": "error", "message": message}))
        raise
    finally:
        if server is not None:
            server.shutdown()


__all__ = ["PoolServer", "ServerConfig", "main"]


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
