"""Telling a full disk from other failures, whichever library met it.

A full disk is not a bug to show as a traceback: the run stops with a message naming what
could not be written, and resumes once space is freed. Each writer says it differently:
``OSError`` with ``ENOSPC``/``EDQUOT`` (Python's own files), ``sqlite3.OperationalError``
with ``SQLITE_FULL`` (ledger, cache, audit log), and Lance an ``OSError`` without an errno
whose text carries the OS error ("No space left on device (os error 28)").
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Final

from synthfactory.errors import DiskFullError

_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
_FULL_TEXTS: Final = (
    "No space left on device",
    "Disk quota exceeded",
    f"os error {errno.ENOSPC}",
    "database or disk is full",
)


def is_disk_full(err: BaseException) -> bool:
    """True if ``err`` says a disk (or a quota) is full."""
    if isinstance(err, DiskFullError):
        return True
    if isinstance(err, OSError) and err.errno in _FULL_ERRNOS:
        return True
    if isinstance(err, sqlite3.Error) and getattr(err, "sqlite_errorcode", None) == (
        sqlite3.SQLITE_FULL
    ):
        return True
    return isinstance(err, OSError | sqlite3.Error) and any(t in str(err) for t in _FULL_TEXTS)


def disk_full_error(err: BaseException, what: str) -> DiskFullError | None:
    """The :class:`DiskFullError` to stop a run with, if ``err`` is a full disk while
    writing ``what`` (e.g. "the audit log at PATH"); None for any other error."""
    if isinstance(err, DiskFullError):
        return err
    if not is_disk_full(err):
        return None
    return DiskFullError(
        f"the disk is full: {what} could not be written ({err}). The run stopped; nothing "
        "stored is lost. Free some space, then resume the run.",
        what=what,
    )


__all__ = ["disk_full_error", "is_disk_full"]
