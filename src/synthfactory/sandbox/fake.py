"""``FakeSandbox``: a scripted stand-in for tests of code that uses a sandbox.

It never executes the code it is given (a fake must not run untrusted code): each job gets
the result scripted for its id, or one built from ``default``. Every job it was asked to run
is kept in ``jobs`` for assertions.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence

from synthfactory.sandbox.detect import LAYERS, IsolationReport
from synthfactory.sandbox.results import SandboxJob, SandboxResult
from synthfactory.verdict import VerdictStatus


class FakeSandbox:
    """Answers from a script: ``results`` by job id, else ``default`` for every job."""

    def __init__(
        self,
        results: Mapping[str, SandboxResult] | None = None,
        *,
        default: VerdictStatus = "pass",
        isolation: IsolationReport | None = None,
    ) -> None:
        self.results = dict(results or {})
        self.default = default
        self._isolation = isolation or IsolationReport(LAYERS)
        self.jobs: list[SandboxJob] = []
        self.closed = False
        self._lock = threading.Lock()

    @property
    def isolation(self) -> IsolationReport:
        """The (pretend) layers recorded with every result."""
        return self._isolation

    def run(self, jobs: Sequence[SandboxJob]) -> list[SandboxResult]:
        """The scripted result of each job, with its id and the fake's isolation."""
        with self._lock:
            if self.closed:
                raise RuntimeError("FakeSandbox is closed")
            self.jobs.extend(jobs)
        out = []
        for job in jobs:
            scripted = self.results.get(job.id)
            if scripted is None:
                scripted = SandboxResult(
                    job.id, self.default, exit_code=0 if self.default == "pass" else 1
                )
            out.append(dataclasses.replace(scripted, id=job.id, isolation=self._isolation.layers))
        return out

    def close(self) -> None:
        """Mark the fake closed (later runs raise)."""
        self.closed = True


__all__ = ["FakeSandbox"]
