"""The sandbox: run untrusted code with layered isolation, and say what happened as data.

* :class:`SandboxPool`: pre-forked hardened Python workers (namespaces, Landlock, seccomp,
  cgroups, rlimits, a uid per slot), run from a clean server process;
* :class:`BubblewrapSandbox`: the exec-based fallback for other languages;
* :class:`FakeSandbox`: scripted results for tests (never executes anything);
* :func:`detect_isolation`: which layers this host offers;
* :class:`Sandbox`: the protocol all three implement.

This package's ``__init__`` stays light (no typer, no Lance): the pool server imports it.
"""

from synthfactory.sandbox.bubblewrap import BubblewrapSandbox, bwrap_path
from synthfactory.sandbox.detect import LAYERS, REQUIRED, IsolationReport, detect_isolation
from synthfactory.sandbox.errors import InsufficientIsolationError, SandboxBrokenError
from synthfactory.sandbox.fake import FakeSandbox
from synthfactory.sandbox.limits import Limits
from synthfactory.sandbox.pool import SandboxPool
from synthfactory.sandbox.protocol import Sandbox
from synthfactory.sandbox.results import SandboxJob, SandboxResult

__all__ = [
    "LAYERS",
    "REQUIRED",
    "BubblewrapSandbox",
    "FakeSandbox",
    "InsufficientIsolationError",
    "IsolationReport",
    "Limits",
    "Sandbox",
    "SandboxBrokenError",
    "SandboxJob",
    "SandboxPool",
    "SandboxResult",
    "bwrap_path",
    "detect_isolation",
]
