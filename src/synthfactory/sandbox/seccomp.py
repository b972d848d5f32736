"""A precompiled seccomp-BPF filter for sandboxed jobs, written by hand with ctypes.

Policy: a **denylist** on top of the other layers (uid, Landlock, namespaces), because an
allowlist for a full CPython (plus whatever a job's subprocesses exec) is brittle and a
wrong entry kills correct code. What it denies and how:

* **killed** (``SECCOMP_RET_KILL_PROCESS``, the job dies of ``SIGSYS``; the verdict is
  ``sandbox_violation``): the kernel-attack and escape surface a verification job never
  needs: ``ptrace``, ``process_vm_readv/writev``, ``pidfd_getfd``, ``kcmp``; every mount
  call (``mount``, ``umount2``, ``pivot_root``, ``chroot``, the new mount API); namespace
  changes (``unshare``, ``setns``, and ``clone`` with any ``CLONE_NEW*`` flag);
  ``kexec_*``, ``bpf``, ``perf_event_open``, ``userfaultfd``, ``io_uring_*`` (its
  operations bypass seccomp, e.g. connect), keyrings (``keyctl``, ``add_key``,
  ``request_key``), modules, ``reboot``, swap, quotas, clocks, ``syslog``, ``acct``,
  ``open_by_handle_at``, ``iopl``/``ioperm``, ``personality``; any syscall of another ABI
  (i386 ``int 0x80``, x32), which would otherwise dodge the numbers below.
* **EPERM** (the call fails, the job goes on): ``socket``/``socketpair`` for any family but
  ``AF_UNIX``. Code that only probes for a network then degrades as on an offline machine;
  code that needs the network fails.
* **ENOSYS**: ``clone3``, whose flags live in memory a filter cannot read; libc then falls
  back to ``clone``, whose flags it can.

Only x86_64 has a syscall table here; elsewhere :func:`supported` is false and detection
reports no ``seccomp`` layer (so untrusted code is refused unless explicitly allowed).
"""

from __future__ import annotations

import ctypes
import functools
import platform
import struct

# Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
_LD_W_ABS = 0x00 | 0x00 | 0x20
_JMP_JEQ_K = 0x05 | 0x10 | 0x00
_JMP_JGE_K = 0x05 | 0x30 | 0x00
_JMP_JSET_K = 0x05 | 0x40 | 0x00
_RET_K = 0x06

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_EPERM = 1
_ENOSYS = 38

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LOW = 16  # little endian: the low 32 bits of args[0]

_AF_UNIX = 1
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
_CLONE_NEW_MASK = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
_CLONE_NEW_MASK |= 0x20000000 | 0x40000000 | 0x00000080

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2

# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl).
_X86_64_KILL = {
    "ptrace": 101,
    "syslog": 103,
    "uselib": 134,
    "personality": 135,
    "vhangup": 153,
    "pivot_root": 155,
    "adjtimex": 159,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "create_module": 174,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_getfd": 438,
    "mount_setattr": 442,
    "quotactl_fd": 443,
}
_X86_64_SOCKET = 41
_X86_64_SOCKETPAIR = 53
_X86_64_CLONE = 56
_X86_64_CLONE3 = 435

#: Names of the syscalls whose use kills the job (documentation and tests).
KILLED_SYSCALLS: tuple[str, ...] = tuple(sorted(_X86_64_KILL))


def supported() -> bool:
    """True when this module has a syscall table for the running architecture."""
    return platform.machine() in ("x86_64", "amd64", "AMD64")


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def build_filter() -> bytes:
    """The filter as packed ``struct sock_filter`` records, ready for :func:`install`.

    Built once per pool and shared by every job (the "precompiled" filter). Jumps are
    resolved from labels so the program can be read top to bottom.
    """
    if not supported():
        raise OSError(f"no seccomp syscall table for {platform.machine()}")
    # (code, k, jt_label, jf_label); a label of None means "next instruction".
    prog: list[tuple[int, int, str | None, str | None]] = [
        (_LD_W_ABS, _OFF_ARCH, None, None),
        (_JMP_JEQ_K, _AUDIT_ARCH_X86_64, None, "kill"),
        (_LD_W_ABS, _OFF_NR, None, None),
        (_JMP_JGE_K, _X32_SYSCALL_BIT, "kill", None),
    ]
    prog += [(_JMP_JEQ_K, nr, "kill", None) for nr in sorted(_X86_64_KILL.values())]
    prog += [
        (_JMP_JEQ_K, _X86_64_CLONE3, "enosys", None),
        (_JMP_JEQ_K, _X86_64_SOCKET, "socket", None),
        (_JMP_JEQ_K, _X86_64_SOCKETPAIR, "socket", None),
        (_JMP_JEQ_K, _X86_64_CLONE, "clone", None),
        (_RET_K, _RET_ALLOW, None, None),
    ]
    labels: dict[str, int] = {}
    tail: list[tuple[str | None, tuple[int, int, str | None, str | None]]] = [
        ("socket", (_LD_W_ABS, _OFF_ARG0_LOW, None, None)),
        (None, (_JMP_JEQ_K, _AF_UNIX, "allow", "eperm")),
        ("clone", (_LD_W_ABS, _OFF_ARG0_LOW, None, None)),
        (None, (_JMP_JSET_K, _CLONE_NEW_MASK, "kill", "allow")),
        ("allow", (_RET_K, _RET_ALLOW, None, None)),
        ("eperm", (_RET_K, _RET_ERRNO | _EPERM, None, None)),
        ("enosys", (_RET_K, _RET_ERRNO | _ENOSYS, None, None)),
        ("kill", (_RET_K, _RET_KILL_PROCESS, None, None)),
    ]
    for label, insn in tail:
        if label is not None:
            labels[label] = len(prog)
        prog.append(insn)
    out = bytearray()
    for index, (code, k, jt, jf) in enumerate(prog):
        jt_off = 0 if jt is None else labels[jt] - index - 1
        jf_off = 0 if jf is None else labels[jf] - index - 1
        if not (0 <= jt_off < 256 and 0 <= jf_off < 256):
            raise AssertionError("seccomp program too long for 8-bit jumps")
        out += struct.pack("=HBBI", code, jt_off, jf_off, k)
    return bytes(out)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


@functools.cache
def _libc() -> ctypes.CDLL:
    # One dlopen per process instead of one per call (a job's setup made three).
    return ctypes.CDLL(None, use_errno=True)


def set_no_new_privs() -> None:
    """``prctl(PR_SET_NO_NEW_PRIVS, 1)``: no setuid binary can raise privileges again."""
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_SET_NO_NEW_PRIVS) failed")


def install(program: bytes) -> None:
    """Install ``program`` on the calling thread (sets no_new_privs first); irreversible."""
    set_no_new_privs()
    libc = _libc()
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_SET_SECCOMP) failed")


__all__ = ["KILLED_SYSCALLS", "build_filter", "install", "set_no_new_privs", "supported"]
