"""Landlock: file, TCP and signal rules a job imposes on itself before it runs.

Through raw syscalls (ctypes), probed with ``landlock_create_ruleset(NULL, 0,
LANDLOCK_CREATE_RULESET_VERSION)`` since there may be no securityfs to look at. What the
job gets, by ABI version:

* v1+: read and execute beneath the read-only paths, everything beneath the job
  directory, nothing else (no write anywhere else, no read of anything not listed);
* v2+: ``REFER`` (cross-directory rename/link) handled too; v3+: ``TRUNCATE``;
  v5+: ``IOCTL_DEV`` (device ioctls), allowed only on the few device files listed;
* v4+: TCP ``bind`` and ``connect`` handled with no rule, so every port is denied;
* v6+: scoped signals and abstract unix sockets: the job cannot signal or connect to
  anything outside its own Landlock domain (the slot, the pool server, other jobs).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import stat
import struct
from collections.abc import Iterable

_SYS_CREATE_RULESET = 444  # the same number on every architecture (new syscall table)
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

_EXECUTE = 1 << 0
_WRITE_FILE = 1 << 1
_READ_FILE = 1 << 2
_READ_DIR = 1 << 3
_REFER = 1 << 13
_TRUNCATE = 1 << 14
_IOCTL_DEV = 1 << 15
_ABI1_FS = (1 << 13) - 1  # EXECUTE .. MAKE_SYM

_NET_BIND_TCP = 1 << 0
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
_SCOPE_SIGNAL = 1 << 1

_FILE_ONLY = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV


@functools.cache
def _libc() -> ctypes.CDLL:
    # Loaded once per process (dlopen per call cost ~50 us per job); the handle is only a
    # way to reach the syscalls, so sharing it changes nothing about what they enforce.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi_version() -> int:
    """The Landlock ABI this kernel offers, 0 when Landlock is absent or disabled."""
    libc = _libc()
    version = int(
        libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    )
    return max(version, 0)


def handled_fs(abi: int) -> int:
    """Every file-system right this ABI knows (all of them are denied unless a rule allows)."""
    rights = _ABI1_FS
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


def _add_path_rule(libc: ctypes.CDLL, ruleset_fd: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FILE_ONLY
        attr = ctypes.create_string_buffer(struct.pack("=Qi", access, fd), 12)
        if libc.syscall(_SYS_ADD_RULE, ruleset_fd, _RULE_PATH_BENEATH, attr, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_add_rule({path}) failed")
    finally:
        os.close(fd)


class PreparedPaths:
    """Path rules opened once (per slot) and reused for every job's ruleset.

    Opening and ``fstat``-ing every read-only and device path for each job is most of the
    cost of Landlock; the paths and their rights are the same for every job of a slot, so
    they are opened here once (``O_PATH | O_CLOEXEC``) and each job's fresh ruleset gets
    the rules :func:`restrict` would have added, less those that grant nothing more: a
    path beneath another rule's directory (after symlinks: ``/lib`` is ``/usr/lib``) whose
    rights that rule already grants. Landlock allows an access if any rule on the path's
    ancestors allows it, so the rights of every path are unchanged; a job just builds
    fewer rules. The descriptors give no access by themselves (``O_PATH``), and the forked
    job closes them before any of its code runs.
    """

    def __init__(self, *, abi: int, read_paths: Iterable[str], device_paths: Iterable[str]):
        self.abi = abi
        fs = handled_fs(abi)
        self.rules: list[tuple[int, bytes]] = []
        read = _EXECUTE | _READ_FILE | _READ_DIR
        wanted = [(p, read) for p in read_paths]
        wanted += [(p, (_READ_FILE | _WRITE_FILE | _IOCTL_DEV) & fs) for p in device_paths]
        # Ancestors first, so a path is only ever dropped for a rule that is kept.
        wanted.sort(key=lambda item: len(os.path.realpath(item[0])))
        kept: list[tuple[str, int]] = []  # (real path of a directory, its rights)
        for path, access in wanted:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            allowed = access if is_dir else access & _FILE_ONLY
            real = os.path.realpath(f"/proc/self/fd/{fd}")
            if any(_beneath(real, top) and allowed & ~rights == 0 for top, rights in kept):
                os.close(fd)
                continue
            if is_dir:
                kept.append((real, allowed))
            self.rules.append((fd, struct.pack("=Qi", allowed, fd)))
        # Made once, here: a job passes them to landlock_add_rule as they are.
        self._attrs = [ctypes.create_string_buffer(packed, 12) for _, packed in self.rules]

    @property
    def fds(self) -> list[int]:
        """The descriptors held open (to keep until the ruleset is built)."""
        return [fd for fd, _ in self.rules]

    def close(self) -> None:
        """Close the descriptors."""
        for fd, _ in self.rules:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.rules = []
        self._attrs = []


def create_ruleset(
    prepared: PreparedPaths, *, read_paths: Iterable[str], write_paths: Iterable[str]
) -> int:
    """A new ruleset fd with ``prepared``'s rules plus ``read_paths`` (read and execute)
    and ``write_paths`` (every right): the same rules :func:`restrict` would build. Pass
    it to :func:`restrict_self`."""
    abi = prepared.abi
    if abi < 1:
        raise OSError("Landlock is not available")
    libc = _libc()
    syscall = libc.syscall
    ruleset_fd = _new_ruleset(libc, abi)
    try:
        for attr in prepared._attrs:
            if syscall(_SYS_ADD_RULE, ruleset_fd, _RULE_PATH_BENEATH, attr, 0) != 0:
                err = ctypes.get_errno()
                raise OSError(err, "landlock_add_rule failed")
        for path in read_paths:
            _add_path_rule(libc, ruleset_fd, path, _EXECUTE | _READ_FILE | _READ_DIR)
        for path in write_paths:
            _add_path_rule(libc, ruleset_fd, path, handled_fs(abi))
    except BaseException:
        os.close(ruleset_fd)
        raise
    return ruleset_fd


def restrict_self(ruleset_fd: int) -> None:
    """Enforce ``ruleset_fd`` on the calling process for good, then close it."""
    try:
        if _libc().syscall(_SYS_RESTRICT_SELF, ruleset_fd, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "landlock_restrict_self failed")
    finally:
        with contextlib.suppress(OSError):
            os.close(ruleset_fd)


def _beneath(path: str, top: str) -> bool:
    """True when ``path`` is ``top`` or inside it (both real, absolute paths)."""
    return path == top or path.startswith(top.rstrip("/") + "/")


def _new_ruleset(libc: ctypes.CDLL, abi: int) -> int:
    fs = handled_fs(abi)
    net = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0
    scoped = _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET if abi >= 6 else 0
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    attr = ctypes.create_string_buffer(struct.pack("=QQQ", fs, net, scoped)[:size], size)
    ruleset_fd = int(libc.syscall(_SYS_CREATE_RULESET, attr, ctypes.c_size_t(size), 0))
    if ruleset_fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, "landlock_create_ruleset failed")
    return ruleset_fd


def restrict(
    *,
    abi: int,
    read_paths: Iterable[str],
    write_paths: Iterable[str],
    device_paths: Iterable[str] = (),
) -> None:
    """Confine the calling process (and its future children) for good.

    ``read_paths`` get read and execute, ``write_paths`` every right, ``device_paths``
    (``/dev/null`` and friends) read, write and ioctl. Needs ``no_new_privs`` (or
    ``CAP_SYS_ADMIN``) already set.
    """
    if abi < 1:
        raise OSError("Landlock is not available")
    libc = _libc()
    fs = handled_fs(abi)
    ruleset_fd = _new_ruleset(libc, abi)
    try:
        read = _EXECUTE | _READ_FILE | _READ_DIR
        for path in read_paths:
            _add_path_rule(libc, ruleset_fd, path, read)
        for path in device_paths:
            _add_path_rule(libc, ruleset_fd, path, (_READ_FILE | _WRITE_FILE | _IOCTL_DEV) & fs)
        for path in write_paths:
            _add_path_rule(libc, ruleset_fd, path, fs)
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset_fd, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "landlock_restrict_self failed")
    finally:
        with contextlib.suppress(OSError):
            os.close(ruleset_fd)


__all__ = [
    "PreparedPaths",
    "abi_version",
    "create_ruleset",
    "handled_fs",
    "restrict",
    "restrict_self",
]
