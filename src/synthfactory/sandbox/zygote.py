"""A slot's zygote: the process that forks the slot's job children, and does little else.

Forking write-protects every page of the forking process, and a page it writes while a
child shares it is copied. A slot that forks its own jobs pays that on every page its
per-job work touches (reading the job, watching, classifying, answering: some 300 pages
a job), on every job. So a slot forks, once, a zygote (a copy of its warm interpreter,
with the slot's prepared descriptors) whose loop touches only a few pages per job:

* the slot sends a job directory; the zygote makes the child's pipes, forks, and sends
  back the child's pid, a pidfd for it, and the slot's ends of its pipes (``SCM_RIGHTS``);
* the child runs ``child_main`` (the slot's per-job setup: every layer, then the job);
* the zygote waits for the child and sends its wait status and CPU time.

The slot does everything else (cgroup kill, output, watchdog) and never forks per job.
The zygote dies with its slot (parent death signal) and its children with it. A job's
orphans are re-parented to the slot (a child subreaper; the zygote is not one), which
reaps them. The zygote closes the slot's server socket, so no job can inherit it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

#: ``child_main(job_dir, parent_pid, (out_w, err_w, status_w, go_r))``; never returns.
ChildMain = Callable[[str, int, tuple[int, int, int, int]], None]

_PR_SET_PDEATHSIG = 1
_FORKED = struct.Struct("=ci")  # b"F", pid
_EXITED = struct.Struct("=ciid")  # b"X", pid, wait status, CPU seconds (user + system)
_MAX_MESSAGE = 4096


@dataclass
class Forked:
    """A child the zygote forked: its pid, a pidfd, and the slot's ends of its pipes."""

    pid: int
    pidfd: int
    out_r: int
    err_r: int
    status_r: int
    go_w: int


class ZygoteGoneError(OSError):
    """The zygote died or broke the protocol (the slot then reports and is recycled)."""


class Zygote:
    """The slot's handle on its zygote; see the module doc."""

    def __init__(self, child_main: ChildMain, *, close_fds: Iterable[int] = ()) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        slot_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the zygote process
            parent_end.close()
            for fd in close_fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            _serve(child_end, child_main, slot_pid)
        child_end.close()
        self.pid = pid
        self._sock = parent_end

    def request(self, job_dir: str) -> None:
        """Ask for a child for ``job_dir`` (collect it with :meth:`receive`)."""
        self._sock.send(job_dir.encode())

    def receive(self) -> Forked:
        """The child asked for by the last :meth:`request`."""
        message, fds, _, _ = socket.recv_fds(self._sock, _MAX_MESSAGE, 5)
        if len(message) != _FORKED.size or len(fds) != 5:
            for fd in fds:
                os.close(fd)
            raise ZygoteGoneError("the zygote did not fork a child")
        tag, pid = _FORKED.unpack(message)
        if tag != b"F":
            raise ZygoteGoneError(f"unexpected message {tag!r} from the zygote")
        return Forked(pid, *fds)

    def wait(self, pid: int) -> tuple[int, float]:
        """(wait status, CPU seconds) of child ``pid``, once it has exited."""
        message = self._sock.recv(_MAX_MESSAGE)
        if len(message) != _EXITED.size:
            raise ZygoteGoneError("the zygote did not report its child's exit")
        tag, got, status, cpu_s = _EXITED.unpack(message)
        if tag != b"X" or got != pid:
            raise ZygoteGoneError(f"the zygote reported {tag!r} for {got}, not {pid}")
        return status, cpu_s

    def close(self) -> None:
        """Stop the zygote (it exits at end of file; a child still waiting for a job sees
        its job pipe close and exits too)."""
        self._sock.close()


def _serve(sock: socket.socket, child_main: ChildMain, slot_pid: int) -> NoReturn:
    """The zygote's loop. Kept small on purpose: each page it writes while a child is
    alive is copied, and a child is alive nearly all the time."""
    code = 0
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != slot_pid:
            os._exit(0)
        me = os.getpid()
        while True:
            request = sock.recv(_MAX_MESSAGE)
            if not request:
                break
            fds: list[int] = []
            for _ in range(4):
                fds.extend(os.pipe())
            out_r, out_w, err_r, err_w, status_r, status_w, go_r, go_w = fds
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the job's child
                sock.close()
                for fd in (out_r, err_r, status_r, go_w):
                    os.close(fd)
                child_main(request.decode(), me, (out_w, err_w, status_w, go_r))
                os._exit(127)  # child_main never returns
            for fd in (out_w, err_w, status_w, go_r):
                os.close(fd)
            pidfd = os.pidfd_open(pid)
            theirs = [pidfd, out_r, err_r, status_r, go_w]
            socket.send_fds(sock, [_FORKED.pack(b"F", pid)], theirs)
            for fd in theirs:
                os.close(fd)
            _, status, usage = os.wait4(pid, 0)
            sock.send(_EXITED.pack(b"X", pid, status, usage.ru_utime + usage.ru_stime))
    except BaseException:
        code = 1
    finally:
        os._exit(code)


__all__ = ["ChildMain", "Forked", "Zygote", "ZygoteGoneError"]
