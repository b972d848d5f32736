"""The namespaces a slot lives in: an empty network namespace and a private mount namespace.

In its own mount namespace a slot gets

* a size-limited tmpfs as its work area, so job directories have a disk quota and vanish
  with the slot even if cleanup never runs;
* a readable view of the interpreter: when the Python prefix sits under a directory other
  users cannot enter (``/root`` is 0700 when Python comes from pyenv), a tmpfs is mounted
  over that directory (hiding the rest of it) and only the needed paths are bind-mounted
  back, so the job's unprivileged uid can import the standard library and nothing else.

Nothing here touches the host's mount table: every mount is in the slot's namespace.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def unshare(flags: int) -> None:
    """``unshare(2)`` (``os.unshare`` is Python 3.12+)."""
    if _libc().unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare({flags:#x}) failed: {os.strerror(err)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """``mount(2)``."""
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data or None)]
    if _libc().mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target} failed: {os.strerror(err)}")


def enter_private_mounts() -> None:
    """A new mount namespace whose mounts never propagate back to the host."""
    unshare(CLONE_NEWNS)
    mount(None, "/", None, _MS_REC | _MS_PRIVATE)


def mount_tmpfs(path: str, size_mb: int, mode: int = 0o711) -> None:
    """A tmpfs of ``size_mb`` at ``path`` (the quota of the jobs' directories)."""
    mount("tmpfs", path, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={size_mb}m,mode={mode:o}")


def _blocking_ancestor(path: str) -> str | None:
    """The outermost directory above ``path`` that other users may not enter, if any."""
    parts = path.strip("/").split("/")
    current = ""
    for part in parts[:-1]:
        current += "/" + part
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return None
        if not mode & stat.S_IXOTH:
            return current
    return None


def expose(paths: Iterable[str]) -> list[str]:
    """Make ``paths`` reachable for any uid (see the module docstring); returns the
    directories that were masked. Call inside a private mount namespace."""
    masked: list[str] = []
    real = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})
    # A path inside another wanted path comes along with it.
    wanted = [p for p in real if not any(p.startswith(q.rstrip("/") + "/") for q in real)]
    for _ in range(8):  # nested blocking directories are resolved one level per round
        by_ancestor: dict[str, list[str]] = {}
        for path in wanted:
            ancestor = _blocking_ancestor(path)
            if ancestor is not None:
                by_ancestor.setdefault(ancestor, []).append(path)
        if not by_ancestor:
            return masked
        for ancestor, inside in by_ancestor.items():
            fds = [(p, os.open(p, os.O_PATH | os.O_CLOEXEC)) for p in inside]
            try:
                mount("tmpfs", ancestor, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=755")
                for path, fd in fds:
                    if stat.S_ISDIR(os.fstat(fd).st_mode):
                        os.makedirs(path, mode=0o755, exist_ok=True)
                    else:
                        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                        open(path, "ab").close()
                    mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
            finally:
                for _, fd in fds:
                    os.close(fd)
            masked.append(ancestor)
    return masked


__all__ = [
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "enter_private_mounts",
    "expose",
    "mount",
    "mount_tmpfs",
    "unshare",
]
