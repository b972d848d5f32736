"""Per-slot cgroups: a process limit, a memory limit, CPU accounting and a whole-group kill.

Works on cgroup v1 (one hierarchy per controller; the kill is freeze, ``SIGKILL`` every
pid, thaw) and on cgroup v2 (one directory; ``cgroup.kill``). v1 is preferred when it has a
``pids`` hierarchy, because a v2 tree whose controllers live on v1 has nothing to limit
with. Groups are created beneath the cgroup the pool server itself is in, so a pool inside
a container or a systemd unit stays inside its own budget.

A job is attached to its slot's group after ``fork``; everything it starts inherits the
group, which is why "kill the group" also kills daemons and double forks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

_V1_CONTROLLERS = ("pids", "memory", "freezer", "cpuacct")


@dataclass(frozen=True)
class CgroupLayout:
    """Where this process's cgroups are: ``bases`` maps a controller (or ``"unified"``
    on v2) to the directory of this process's own group in that hierarchy."""

    version: int
    bases: dict[str, Path] = field(default_factory=dict)

    @property
    def controllers(self) -> frozenset[str]:
        """The controllers this layout can use."""
        if self.version == 1:
            return frozenset(self.bases)
        root = self.bases["unified"]
        try:
            enabled = (root / "cgroup.subtree_control").read_text().split()
        except OSError:
            enabled = []
        names = {"cpu_stat", "kill"} if (root / "cgroup.kill").exists() else {"cpu_stat"}
        return frozenset(names | set(enabled))


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fs type, super options) of every cgroup mount."""
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fstype, _, opts = [*right.split(), "", "", ""][:3]
            if fstype in ("cgroup", "cgroup2"):
                found.append((left.split()[4], fstype, set(opts.split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """This process's group per v1 controller, and ``""`` for v2."""
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path
    return paths


def discover() -> CgroupLayout | None:
    """The layout to use here, or None when no usable cgroup hierarchy is mounted."""
    own = _own_paths()
    mounts = _mounts()
    v1: dict[str, Path] = {}
    for mountpoint, fstype, opts in mounts:
        if fstype != "cgroup":
            continue
        for ctrl in _V1_CONTROLLERS:
            if ctrl in opts and ctrl in own and ctrl not in v1:
                v1[ctrl] = Path(mountpoint) / own[ctrl].lstrip("/")
    if "pids" in v1:
        return CgroupLayout(1, v1)
    for mountpoint, fstype, _ in mounts:
        if fstype == "cgroup2" and "" in own:
            return CgroupLayout(2, {"unified": Path(mountpoint) / own[""].lstrip("/")})
    return None


class JobCgroup:
    """One slot's group (one directory per hierarchy), reused by each of its jobs."""

    def __init__(self, layout: CgroupLayout, name: str) -> None:
        self.layout = layout
        self.name = name
        self.dirs = {ctrl: base / name for ctrl, base in layout.bases.items()}

    def create(self, *, pids_max: int | None, memory_bytes: int | None) -> None:
        """Make the directories and set the limits; raises OSError if the kernel refuses."""
        for path in self.dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        if self.layout.version == 1:
            if pids_max is not None and "pids" in self.dirs:
                (self.dirs["pids"] / "pids.max").write_text(str(pids_max))
            if memory_bytes is not None and "memory" in self.dirs:
                (self.dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
                # Without swap accounting this file is absent; the plain limit still holds.
                with contextlib.suppress(OSError):
                    (self.dirs["memory"] / "memory.memsw.limit_in_bytes").write_text(
                        str(memory_bytes)
                    )
        else:
            unified = self.dirs["unified"]
            if pids_max is not None and (unified / "pids.max").exists():
                (unified / "pids.max").write_text(str(pids_max))
            if memory_bytes is not None and (unified / "memory.max").exists():
                (unified / "memory.max").write_text(str(memory_bytes))
                with contextlib.suppress(OSError):
                    (unified / "memory.swap.max").write_text("0")

    def has_file(self, name: str) -> bool:
        """True when one of the group's directories has the control file ``name``."""
        return any((path / name).exists() for path in self.dirs.values())

    def open_procs(self) -> list[int]:
        """Descriptors (``O_WRONLY | O_CLOEXEC``) of every hierarchy's ``cgroup.procs``,
        opened once by a slot so each job can join with one ``write`` per hierarchy
        (:meth:`attach_fds`) instead of a path lookup and an ``open``. The kernel checks
        the writer's rights at ``write`` time, and a job closes these before its code runs."""
        fds: list[int] = []
        try:
            for path in self.dirs.values():
                fds.append(os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    @staticmethod
    def attach_fds(fds: list[int]) -> None:
        """Move the caller into every hierarchy, through :meth:`open_procs`' descriptors."""
        for fd in fds:
            os.write(fd, b"0")

    def attach(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the caller) into every hierarchy of this group."""
        for path in self.dirs.values():
            with open(path / "cgroup.procs", "w") as fh:
                fh.write(str(pid))

    def _any_dir(self) -> Path:
        return self.dirs.get("pids") or self.dirs.get("freezer") or next(iter(self.dirs.values()))

    def procs(self) -> list[int]:
        """Pids currently in the group."""
        try:
            text = (self._any_dir() / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def cpu_ns(self) -> int | None:
        """CPU time (user + system) used by the group so far, or None if not accounted."""
        try:
            if self.layout.version == 1:
                if "cpuacct" not in self.dirs:
                    return None
                return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text())
            for line in (self.dirs["unified"] / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) * 1000
        except (OSError, ValueError):
            return None
        return None

    def _counter(self, ctrl: str, filename: str, key: str) -> int:
        path = self.dirs.get(ctrl if self.layout.version == 1 else "unified")
        if path is None:
            return 0
        try:
            for line in (path / filename).read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
        except (OSError, ValueError):
            return 0
        return 0

    def pids_limit_hits(self) -> int:
        """How often a fork failed on ``pids.max`` (monotonic)."""
        return self._counter("pids", "pids.events", "max")

    def oom_kills(self) -> int:
        """How many processes the memory limit killed (monotonic)."""
        if self.layout.version == 1:
            return self._counter("memory", "memory.oom_control", "oom_kill")
        return self._counter("memory", "memory.events", "oom_kill")

    def kill_all(self, timeout_s: float = 3.0) -> int:
        """SIGKILL everything in the group and wait until it is empty; returns how many
        processes were found. Raises TimeoutError if the group will not empty."""
        found: set[int] = set()
        deadline = time.monotonic() + timeout_s
        if self.layout.version == 2 and (self.dirs["unified"] / "cgroup.kill").exists():
            found.update(self.procs())
            if found:
                (self.dirs["unified"] / "cgroup.kill").write_text("1")
        elif "freezer" in self.dirs:
            pids = self.procs()
            if pids:
                state = self.dirs["freezer"] / "freezer.state"
                # Frozen, a fork bomb cannot outrun the kill loop.
                state.write_text("FROZEN")
                while state.read_text().strip() != "FROZEN" and time.monotonic() < deadline:
                    time.sleep(0.001)
                for pid in self.procs():
                    found.add(pid)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                state.write_text("THAWED")
        while True:
            pids = self.procs()
            if not pids:
                return len(found)
            for pid in pids:
                found.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise TimeoutError(f"cgroup {self.name} still holds {pids}")
            time.sleep(0.002)

    def remove(self) -> None:
        """Kill what is left and remove the directories (best effort)."""
        with contextlib.suppress(OSError, TimeoutError):
            self.kill_all()
        for path in self.dirs.values():
            with contextlib.suppress(OSError):
                path.rmdir()


class CgroupCounters:
    """A group's CPU time and limit counters, read through descriptors opened once.

    A slot reads these several times per job; ``os.pread`` on a descriptor it holds costs
    a fraction of a path lookup, ``open`` and ``read`` each time, and touches far fewer of
    the slot's pages (each of which a forked job would otherwise have to copy). The values
    are the same as :meth:`JobCgroup.cpu_ns`, :meth:`JobCgroup.pids_limit_hits` and
    :meth:`JobCgroup.oom_kills`. The descriptors are ``O_RDONLY | O_CLOEXEC``, and a forked
    job closes them before its code runs.
    """

    def __init__(self, group: JobCgroup) -> None:
        v1 = group.layout.version == 1
        unified = group.dirs.get("unified")
        wanted = {
            "cpu": (group.dirs.get("cpuacct"), "cpuacct.usage") if v1 else (unified, "cpu.stat"),
            "pids": (group.dirs.get("pids"), "pids.events") if v1 else (unified, "pids.events"),
            "oom": (group.dirs.get("memory"), "memory.oom_control")
            if v1
            else (unified, "memory.events"),
        }
        self._v1 = v1
        self._fds: dict[str, int] = {}
        for key, (path, name) in wanted.items():
            if path is not None:
                with contextlib.suppress(OSError):
                    self._fds[key] = os.open(path / name, os.O_RDONLY | os.O_CLOEXEC)

    @property
    def fds(self) -> list[int]:
        """The descriptors held open."""
        return list(self._fds.values())

    def _read(self, key: str) -> bytes | None:
        fd = self._fds.get(key)
        if fd is None:
            return None
        try:
            return os.pread(fd, 4096, 0)
        except OSError:
            return None

    def _field(self, key: str, name: bytes) -> int | None:
        data = self._read(key)
        if data is None:
            return None
        for line in data.splitlines():
            field, _, value = line.partition(b" ")
            if field == name:
                return int(value)
        return None

    def cpu_ns(self) -> int | None:
        """As :meth:`JobCgroup.cpu_ns`."""
        if self._v1:
            data = self._read("cpu")
            return None if data is None else int(data)
        usec = self._field("cpu", b"usage_usec")
        return None if usec is None else usec * 1000

    def pids_limit_hits(self) -> int:
        """As :meth:`JobCgroup.pids_limit_hits`."""
        return self._field("pids", b"max") or 0

    def oom_kills(self) -> int:
        """As :meth:`JobCgroup.oom_kills`."""
        return self._field("oom", b"oom_kill") or 0

    def close(self) -> None:
        """Close the descriptors."""
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = {}


def make_base(layout: CgroupLayout, name: str) -> CgroupLayout:
    """A sub-layout rooted at a new group ``name`` beneath ``layout`` (the pool's own)."""
    bases = {ctrl: base / name for ctrl, base in layout.bases.items()}
    for path in bases.values():
        path.mkdir(exist_ok=True)
    if layout.version == 2:
        parent = layout.bases["unified"]
        # Delegate what the parent offers; a refusal leaves those limits off (detected).
        with contextlib.suppress(OSError):
            offered = (parent / "cgroup.controllers").read_text().split()
            wanted = [f"+{c}" for c in ("pids", "memory", "cpu") if c in offered]
            if wanted:
                (bases["unified"] / "cgroup.subtree_control").write_text(" ".join(wanted))
    return CgroupLayout(layout.version, bases)


def remove_base(layout: CgroupLayout) -> None:
    """Remove a layout's base directories made by :func:`make_base` (best effort)."""
    for path in layout.bases.values():
        with contextlib.suppress(OSError):
            path.rmdir()


__all__ = ["CgroupCounters", "CgroupLayout", "JobCgroup", "discover", "make_base", "remove_base"]
