"""Jobs and results of the sandbox, and how an execution becomes a verdict.

How a finished job is classified (first match wins):

================================  ===================  ====================================
what happened                     verdict              why
================================  ===================  ====================================
the pool could not run it         ``infra_error``      a slot crashed, fork or setup failed;
                                                       retried on another slot, never
                                                       counted as a failed example
killed by ``SIGSYS``              ``sandbox_violation``  a syscall the seccomp filter kills
fork refused by ``pids.max``      ``sandbox_violation``  a fork bomb, whatever the exit code
CPU time over ``timeout_s``       ``timeout``          deterministic: not retried
wall clock over the cap           ``timeout``          may be load: retried once elsewhere
killed by the memory limit        ``fail``             the code needs more than it may have
exit status 0                     ``pass``
anything else                     ``fail``             non-zero exit, uncaught exception,
                                                       killed by a signal (``MemoryError``
                                                       under ``RLIMIT_AS`` and ``EFBIG``
                                                       under ``RLIMIT_FSIZE`` land here)
================================  ===================  ====================================

Processes a job leaves behind are killed with its cgroup and counted in ``leftover``;
they do not change the verdict (the slot is recycled).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from synthfactory.verdict import VERDICT_STATUSES, Verdict, VerdictStatus


@dataclass(frozen=True)
class SandboxJob:
    """One Python program to run as a script: ``code`` is its source; ``timeout_s`` its
    CPU-time limit in seconds (the wall-clock cap is derived, see ``Limits``)."""

    id: str
    code: str
    timeout_s: float = 5.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "code": self.code, "timeout_s": self.timeout_s}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxJob:
        """Inverse of :meth:`to_dict`; ``timeout_s`` defaults to 5."""
        return cls(str(data["id"]), str(data["code"]), float(data.get("timeout_s", 5.0)))


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one job.

    ``exit_code`` is the process's exit status, or minus the signal that killed it, or
    None when it never ran. ``stdout`` and ``stderr`` are cut to the pool's bound (a note
    at the end says how much was dropped). ``isolation`` names the layers that were in
    force (see ``synthfactory.sandbox.detect``). ``reason`` says why in words.
    """

    id: str
    verdict: VerdictStatus
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    cpu_ms: float = 0.0
    wall_ms: float = 0.0
    isolation: tuple[str, ...] = ()
    reason: str = ""
    attempts: int = 1
    leftover: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICT_STATUSES:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    @property
    def passed(self) -> bool:
        """True when the job ran and exited 0."""
        return self.verdict == "pass"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the ``sandbox exec`` output line (plus ``reason``, ``attempts``)."""
        data = asdict(self)
        data["isolation"] = list(self.isolation)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=str(data["id"]),
            verdict=data["verdict"],
            exit_code=data.get("exit_code"),
            stdout=data.get("stdout", ""),
            stderr=data.get("stderr", ""),
            cpu_ms=float(data.get("cpu_ms", 0.0)),
            wall_ms=float(data.get("wall_ms", 0.0)),
            isolation=tuple(data.get("isolation", ())),
            reason=data.get("reason", ""),
            attempts=int(data.get("attempts", 1)),
            leftover=int(data.get("leftover", 0)),
        )

    def to_verdict(self) -> Verdict:
        """This result as a :class:`~synthfactory.verdict.Verdict` of tier ``sandbox``."""
        details = self.to_dict()
        details.pop("verdict")
        details.pop("reason")
        reason = self.reason
        last = next((line for line in reversed(self.stderr.splitlines()) if line.strip()), "")
        if self.verdict == "fail" and last:
            # The last line of stderr says why (the exception, or a SystemExit message).
            reason = f"{reason}: {last.strip()[:400]}"
        return Verdict(self.verdict, reason, "sandbox", details)


def infra_error(job_id: str, reason: str, *, isolation: tuple[str, ...] = ()) -> SandboxResult:
    """The result of a job the pool could not run."""
    return SandboxResult(job_id, "infra_error", reason=reason, isolation=isolation)


def truncate(data: bytes, dropped: int, limit: int) -> str:
    """Decode captured output, noting how many bytes past ``limit`` were dropped."""
    text = data[:limit].decode("utf-8", errors="replace")
    dropped += max(0, len(data) - limit)
    if dropped:
        text += f"\n[... {dropped} bytes truncated]"
    return text


__all__ = ["SandboxJob", "SandboxResult", "infra_error", "truncate"]
