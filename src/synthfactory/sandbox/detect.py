"""Which isolation layers this host offers, probed for real.

Each probe applies its layer in a throw-away child process and checks that the layer bites
(a denied syscall kills the child, a Landlock rule refuses a read, ...): a layer counts only
if it was seen working. The pool runs the probes once at start, in its own clean server
process, and records the resulting names with every result.

Layers (names as recorded):

``netns``           an empty network namespace per slot (no interface but a down ``lo``)
``tmpfs_quota``     a private mount namespace with a size-limited tmpfs for job directories
``landlock_fs``     Landlock file rules (read-only system paths, read-write job directory)
``landlock_net``    Landlock TCP rules: no bind, no connect (ABI 4+)
``landlock_scope``  Landlock scoped signals and abstract sockets (ABI 6+)
``seccomp``         the seccomp filter of ``synthfactory.sandbox.seccomp``
``cgroup_pids``     a cgroup ``pids.max``
``cgroup_memory``   a cgroup memory limit
``cgroup_cpu``      cgroup CPU accounting of every process of the job
``cgroup_kill``     kill a whole cgroup (``cgroup.kill``, or freeze + SIGKILL on v1)
``rlimits``         CPU, address space, file size, processes, open files, no core
``uid``             an unprivileged uid per slot (needs root or CAP_SETUID)
``bwrap_fs``        (bubblewrap only) a read-only mount view with only the job dir writable
``pidns``           (bubblewrap only) a pid namespace: killing bwrap kills the whole job

**Minimum for untrusted code** (:data:`REQUIRED`): ``seccomp`` (no dangerous syscalls, no
network sockets), ``rlimits`` (bounded CPU, memory, files), file confinement
(``landlock_fs``, ``uid`` or ``bwrap_fs``) and a way to kill what a job leaves behind
(``cgroup_kill``, ``uid`` whose processes can all be killed, or ``pidns``). Below that
the pool refuses to start unless told ``allow_weak_isolation=True``, which is only for
code you trust.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from synthfactory.sandbox import cgroups, landlock, mounts, seccomp
from synthfactory.sandbox.limits import Limits, apply_rlimits, drop_privileges

LAYERS: tuple[str, ...] = (
    "netns",
    "tmpfs_quota",
    "landlock_fs",
    "landlock_net",
    "landlock_scope",
    "seccomp",
    "cgroup_pids",
    "cgroup_memory",
    "cgroup_cpu",
    "cgroup_kill",
    "rlimits",
    "uid",
)

#: Each tuple is one requirement, met by any one of its layers.
REQUIRED: tuple[tuple[str, ...], ...] = (
    ("seccomp",),
    ("rlimits",),
    ("landlock_fs", "uid", "bwrap_fs"),
    ("cgroup_kill", "uid", "pidns"),
)


@dataclass(frozen=True)
class IsolationReport:
    """The layers found working (``layers``, in :data:`LAYERS` order) and, for the others,
    why not (``missing``)."""

    layers: tuple[str, ...]
    landlock_abi: int = 0
    cgroup_version: int = 0
    missing: dict[str, str] = field(default_factory=dict)

    def has(self, layer: str) -> bool:
        """True when ``layer`` is in force."""
        return layer in self.layers

    def unmet(self) -> list[str]:
        """The requirements of :data:`REQUIRED` this host does not meet, in words."""
        return [" or ".join(req) for req in REQUIRED if not any(self.has(x) for x in req)]

    @property
    def meets_minimum(self) -> bool:
        """True when untrusted code may run here."""
        return not self.unmet()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "layers": list(self.layers),
            "landlock_abi": self.landlock_abi,
            "cgroup_version": self.cgroup_version,
            "missing": dict(self.missing),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IsolationReport:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(data["layers"]),
            int(data.get("landlock_abi", 0)),
            int(data.get("cgroup_version", 0)),
            dict(data.get("missing", {})),
        )


def _in_child(probe: Callable[[], None], expect_signal: int | None = None) -> str | None:
    """Run ``probe`` in a forked child; None if it worked, else why not."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        code = 0
        try:
            probe()
            if expect_signal is not None:
                os.write(write_fd, b"the probe was not stopped by the kernel")
                code = 1
        except BaseException as err:
            os.write(write_fd, f"{type(err).__name__}: {err}".encode()[:500])
            code = 1
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        message = fh.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if expect_signal is not None:
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == expect_signal:
            return None
        return message or f"expected signal {expect_signal}, got status {status}"
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    return message or f"probe child ended with status {status}"


def _probe_netns() -> None:
    mounts.unshare(mounts.CLONE_NEWNET)
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        raise OSError(f"new network namespace has interfaces {names}")


def _probe_tmpfs(workdir: str) -> Callable[[], None]:
    def probe() -> None:
        mounts.enter_private_mounts()
        target = tempfile.mkdtemp(dir=workdir)
        mounts.mount_tmpfs(target, 1)
        try:
            with open(os.path.join(target, "fill"), "wb") as fh:
                fh.write(b"x" * (2 * 1024 * 1024))
                fh.flush()
        except OSError as err:
            if err.errno == errno.ENOSPC:
                return
            raise
        raise OSError("the tmpfs size limit did not hold")

    return probe


def _probe_landlock(abi: int) -> Callable[[], None]:
    def probe() -> None:
        seccomp.set_no_new_privs()
        parent = os.getppid()
        landlock.restrict(abi=abi, read_paths=["/usr"], write_paths=[])
        try:
            open("/etc/hostname", "rb").close()
        except PermissionError:
            pass
        except FileNotFoundError:
            with contextlib.suppress(FileNotFoundError):
                os.listdir("/etc")
                raise OSError("Landlock did not refuse listing /etc") from None
        else:
            raise OSError("Landlock did not refuse a read outside the rules")
        if abi >= 4:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.connect(("127.0.0.1", 9))
                except PermissionError:
                    pass
                except OSError as err:
                    raise OSError(f"Landlock did not refuse TCP connect: {err}") from None
        if abi >= 6:
            try:
                os.kill(parent, 0)
            except PermissionError:
                pass
            else:
                raise OSError("Landlock did not scope signals")

    return probe


def _probe_seccomp(program: bytes) -> Callable[[], None]:
    def probe() -> None:
        seccomp.install(program)
        try:
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        except PermissionError:
            pass
        else:
            raise OSError("seccomp let an AF_INET socket through")
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare(0)  # killed here by SIGSYS

    return probe


def _probe_uid(uid: int) -> Callable[[], None]:
    def probe() -> None:
        drop_privileges(uid, uid)
        try:
            os.setuid(0)
        except PermissionError:
            return
        raise OSError("could set uid 0 again after dropping privileges")

    return probe


def _probe_rlimits() -> None:
    apply_rlimits(Limits(), 1.0)


def _probe_cgroups(found: list[str], missing: dict[str, str]) -> int:
    layout = cgroups.discover()
    if layout is None:
        for layer in ("cgroup_pids", "cgroup_memory", "cgroup_cpu", "cgroup_kill"):
            missing[layer] = "no cgroup hierarchy mounted"
        return 0
    group = cgroups.JobCgroup(layout, f"synthfactory-probe-{os.getpid()}")
    try:
        group.create(pids_max=4, memory_bytes=64 * 1024 * 1024)
    except OSError as err:
        group.remove()
        for layer in ("cgroup_pids", "cgroup_memory", "cgroup_cpu", "cgroup_kill"):
            missing[layer] = f"cannot create a cgroup: {err}"
        return layout.version
    ready_r, ready_w = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                group.attach(0)
            except BaseException:
                os._exit(1)
            x = 0
            for i in range(200_000):  # burn a little CPU for the accounting probe
                x += i
            os.write(ready_w, b"1")
            signal.pause()
            os._exit(0)
        os.close(ready_w)
        attached = os.read(ready_r, 1) == b"1"
        os.close(ready_r)
        ctrls = layout.controllers
        checks = {
            "cgroup_pids": "pids" in ctrls and group.has_file("pids.max"),
            "cgroup_memory": "memory" in ctrls,
            "cgroup_cpu": group.cpu_ns() is not None,
        }
        killed = 0
        try:
            killed = group.kill_all()
        except (OSError, TimeoutError) as err:
            missing["cgroup_kill"] = f"kill failed: {err}"
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        checks["cgroup_kill"] = attached and killed >= 1 and not group.procs()
        for layer, ok in checks.items():
            if ok:
                found.append(layer)
            else:
                missing.setdefault(layer, "controller not available")
    finally:
        group.remove()
    return layout.version


def probe_layers(*, uid: int, workdir: str, skip: Collection[str] = ()) -> IsolationReport:
    """Probe every layer; call only from a clean, single-threaded process (it forks)."""
    found: list[str] = []
    missing: dict[str, str] = {}

    def check(layer: str, probe: Callable[[], None], expect_signal: int | None = None) -> None:
        why = _in_child(probe, expect_signal)
        if why is None:
            found.append(layer)
        else:
            missing[layer] = why

    abi = landlock.abi_version()
    check("netns", _probe_netns)
    check("tmpfs_quota", _probe_tmpfs(workdir))
    if abi >= 1:
        why = _in_child(_probe_landlock(abi))
        for layer, min_abi in (("landlock_fs", 1), ("landlock_net", 4), ("landlock_scope", 6)):
            if why is None and abi >= min_abi:
                found.append(layer)
            else:
                missing[layer] = why or f"Landlock ABI {abi} < {min_abi}"
    else:
        for layer in ("landlock_fs", "landlock_net", "landlock_scope"):
            missing[layer] = "Landlock not available"
    if seccomp.supported():
        check("seccomp", _probe_seccomp(seccomp.build_filter()), signal.SIGSYS)
    else:
        missing["seccomp"] = "no syscall table for this architecture"
    version = _probe_cgroups(found, missing)
    check("rlimits", _probe_rlimits)
    if os.geteuid() == 0:
        check("uid", _probe_uid(uid))
    else:
        missing["uid"] = "not root: cannot switch to a per-slot uid"
    for layer in skip:
        if layer in found:
            found.remove(layer)
            missing[layer] = "skipped on request"
    layers = tuple(layer for layer in LAYERS if layer in found)
    return IsolationReport(layers, abi, version, missing)


def _main(argv: list[str]) -> None:
    """Entry point of the clean detection process: print the report as JSON."""
    uid = int(argv[0]) if argv else 1_900_000
    with tempfile.TemporaryDirectory(prefix="synthfactory-detect-") as workdir:
        report = probe_layers(uid=uid, workdir=workdir)
    print(json.dumps(report.to_dict()))


def detect_isolation(*, uid: int = 1_900_000, timeout_s: float = 30.0) -> IsolationReport:
    """Probe this host's layers in a clean child interpreter (safe from any process)."""
    from synthfactory.sandbox.boot import clean_env, clean_python_argv

    proc = subprocess.run(
        clean_python_argv("synthfactory.sandbox.detect", "_main", str(uid)),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=clean_env(),
        check=False,
    )
    if proc.returncode != 0:
        raise OSError(f"isolation probe failed: {proc.stderr.strip()[-2000:]}")
    return IsolationReport.from_dict(json.loads(proc.stdout))


__all__ = ["LAYERS", "REQUIRED", "IsolationReport", "detect_isolation", "probe_layers"]
