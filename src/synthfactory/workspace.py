"""A workspace: one directory holding the ledger, the response cache and the datasets.

::

    WORKSPACE/
      workspace.json      format version; a newer format is refused with a clear message
      ledger.sqlite       runs, items, step attempts, dataset commits (WAL)
      cache.sqlite        content-addressed model responses, shared by all runs (WAL)
      datasets/NAME.lance one Lance table per dataset
      runs/RUN_ID.lock    held (flock) by the process driving the run
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import IO

from synthfactory.errors import WorkspaceError

FORMAT_VERSION = 1
DEFAULT_WORKSPACE = "synthfactory-workspace"


def stored_format(marker: Path) -> int:
    """The format version a ``workspace.json`` states; :class:`WorkspaceError` if it cannot
    be read."""
    try:
        return int(json.loads(marker.read_text())["format"])
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise WorkspaceError(f"{marker} is unreadable ({err}); is this a workspace?") from None


class Workspace:
    """Paths and format checks for one workspace directory."""

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True) -> None:
        self.root = Path(root).expanduser().resolve()
        marker = self.root / "workspace.json"
        if marker.exists():
            self._check_format(marker)
        elif create:
            try:
                (self.root / "datasets").mkdir(parents=True, exist_ok=True)
                (self.root / "runs").mkdir(exist_ok=True)
            except OSError as err:
                raise WorkspaceError(
                    f"cannot create workspace {self.root}: {err.strerror}"
                ) from None
            tmp = marker.with_suffix(".tmp")
            ident = secrets.token_hex(8)
            tmp.write_text(
                json.dumps({"format": FORMAT_VERSION, "tool": "synthfactory", "id": ident}) + "\n"
            )
            os.replace(tmp, marker)
        else:
            raise WorkspaceError(
                f"{self.root} is not a synthfactory workspace (no workspace.json); "
                "pass --workspace DIR pointing at the directory a run was started in"
            )

    @staticmethod
    def _check_format(marker: Path) -> None:
        found = stored_format(marker)
        if found > FORMAT_VERSION:
            raise WorkspaceError(
                f"workspace {marker.parent} was written by a newer synthfactory (format {found}, "
                f"this version reads up to {FORMAT_VERSION}); upgrade: pip install -U synthfactory"
            )

    @property
    def id(self) -> str:
        """A stable identifier of this workspace (names its audit log's origin)."""
        try:
            ident = json.loads((self.root / "workspace.json").read_text()).get("id")
        except (OSError, ValueError):
            ident = None
        return str(ident) if ident else hashlib.sha256(str(self.root).encode()).hexdigest()[:16]

    @property
    def ledger_path(self) -> Path:
        """The run ledger (SQLite)."""
        return self.root / "ledger.sqlite"

    @property
    def ledger_to_read(self) -> Path:
        """The ledger for a command that only reads it: a workspace no run has used yet
        has none, and reads as an empty one (SQLite's ``:memory:``) rather than get one."""
        return self.ledger_path if self.ledger_path.exists() else Path(":memory:")

    @property
    def cache_path(self) -> Path:
        """The response cache (SQLite), shared by every run in the workspace."""
        return self.root / "cache.sqlite"

    def dataset_uri(self, name: str) -> str:
        """Where the Lance table of dataset ``name`` lives."""
        return str(self.root / "datasets" / f"{name}.lance")

    def run_is_driven(self, run_id: str) -> bool:
        """True while a live process holds the run's lock (a killed driver holds nothing:
        the kernel dropped its lock)."""
        path = self.root / "runs" / f"{run_id}.lock"
        try:
            handle = path.open("r")
        except FileNotFoundError:
            return False
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return False

    def lock_run(self, run_id: str) -> IO[str]:
        """Take the run's exclusive lock; released when the returned file is closed or the
        process dies (kill -9 included), so a crashed run can always be resumed."""
        path = self.root / "runs" / f"{run_id}.lock"
        handle = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process that has not yet said who it is"
            handle.close()
            raise WorkspaceError(
                f"run {run_id} is being driven by another process right now ({holder}); "
                "wait for it, or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {started}\n")
        handle.flush()
        return handle
