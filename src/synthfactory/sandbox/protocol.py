"""The ``Sandbox`` protocol: what the core needs from any sandbox backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from synthfactory.sandbox.detect import IsolationReport
from synthfactory.sandbox.results import SandboxJob, SandboxResult


class Sandbox(Protocol):
    """Runs untrusted programs and says what happened, as data.

    Implementations are synchronous and thread-safe: several threads (or the verification
    workers, each with its own instance) may call :meth:`run` at once. A job the backend
    could not run comes back as an ``infra_error`` result, not as an exception.
    """

    @property
    def isolation(self) -> IsolationReport:
        """The layers in force for every job of this sandbox."""
        ...

    def run(self, jobs: Sequence[SandboxJob]) -> list[SandboxResult]:
        """Run ``jobs`` (in parallel where the backend can); results in the same order."""
        ...

    def close(self) -> None:
        """Stop and clean up everything; idempotent."""
        ...


__all__ = ["Sandbox"]
