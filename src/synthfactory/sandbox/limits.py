"""Resource limits of a job, and the rlimit and uid steps that enforce them in the child.

Time: a job's ``timeout_s`` is **CPU time** (all its processes, from the cgroup when there
is one), so a loaded machine that slows a job down does not fail it. A wall-clock cap,
``max(wall_floor_s, wall_factor * timeout_s)``, catches jobs that sleep or block. The
kernel's ``RLIMIT_CPU`` (one second above the limit, per process) is the backstop should
the watchdog itself be starved.
"""

from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one job may use. Every field has a safe default.

    ``memory_mb`` bounds both the address space of each process (``RLIMIT_AS``) and the
    whole job (the cgroup); ``pids`` the processes and threads of the job (``pids.max``,
    and ``RLIMIT_NPROC`` for its uid); ``file_size_mb`` any one file (``RLIMIT_FSIZE``);
    ``disk_mb`` the job directory (a private tmpfs per slot); ``open_files``
    ``RLIMIT_NOFILE``; ``output_bytes`` what is kept of stdout and of stderr.
    """

    memory_mb: int = 512
    pids: int = 64
    file_size_mb: int = 16
    disk_mb: int = 64
    open_files: int = 256
    output_bytes: int = 64 * 1024
    wall_factor: float = 4.0
    wall_floor_s: float = 3.0

    def wall_cap_s(self, cpu_timeout_s: float) -> float:
        """The wall-clock cap for a job with CPU limit ``cpu_timeout_s``."""
        return max(self.wall_floor_s, self.wall_factor * cpu_timeout_s)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form (sent to the pool server)."""
        return {
            "memory_mb": self.memory_mb,
            "pids": self.pids,
            "file_size_mb": self.file_size_mb,
            "disk_mb": self.disk_mb,
            "open_files": self.open_files,
            "output_bytes": self.output_bytes,
            "wall_factor": self.wall_factor,
            "wall_floor_s": self.wall_floor_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Limits:
        """Inverse of :meth:`to_dict`."""
        return cls(
            memory_mb=int(data["memory_mb"]),
            pids=int(data["pids"]),
            file_size_mb=int(data["file_size_mb"]),
            disk_mb=int(data["disk_mb"]),
            open_files=int(data["open_files"]),
            output_bytes=int(data["output_bytes"]),
            wall_factor=float(data["wall_factor"]),
            wall_floor_s=float(data["wall_floor_s"]),
        )


def apply_rlimits(limits: Limits, cpu_timeout_s: float | None, *, nproc_slack: int = 0) -> None:
    """Set the job's rlimits on the calling process (inherited by its children).

    ``nproc_slack`` raises ``RLIMIT_NPROC`` above ``limits.pids`` when a cgroup enforces
    ``pids.max``: the cgroup should be the limit that bites, since it records the hit.
    ``cpu_timeout_s=None`` (a child forked before its job is known) sets ``RLIMIT_CPU`` to
    unlimited, so that :func:`set_cpu_limit` can lower it to the job's limit later, once
    privileges are gone (lowering needs none).
    """
    if cpu_timeout_s is None:
        inf = resource.RLIM_INFINITY
        resource.setrlimit(resource.RLIMIT_CPU, (inf, inf))
    else:
        set_cpu_limit(cpu_timeout_s)
    memory = limits.memory_mb * _MIB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * _MIB,) * 2)
    nproc = limits.pids + nproc_slack
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def set_cpu_limit(cpu_timeout_s: float) -> None:
    """``RLIMIT_CPU`` for a job of ``cpu_timeout_s``: one second above it (``SIGXCPU``),
    and killed a second later (the backstop behind the watchdog)."""
    cpu = math.ceil(cpu_timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good: no supplementary groups, saved ids too (so no way
    back), and with the change of uid every capability is gone."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or (uid != 0 and os.getresuid().count(0)):
        raise OSError(f"could not drop privileges to uid {uid}")


__all__ = ["Limits", "apply_rlimits", "drop_privileges", "set_cpu_limit"]
