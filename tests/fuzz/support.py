"""What every bad-input fuzz test asserts, through the entry point a user hits: the
``synthfactory`` command run in-process with click's runner (an exception escaping the
command fails the test: that is a traceback a user would have seen)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer.main
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from synthfactory.cli import app

#: The click command typer builds from the app, built once: building it is most of the
#: time an in-process call takes.
COMMAND = typer.main.get_command(app)

#: Port 9 (discard) on loopback: nothing listens, and a refused input never gets that far.
FAKE_URL = "http://127.0.0.1:9/v1"
ENDPOINT = f"generator={FAKE_URL},model=fuzz"
#: What keeps a run short should a bad input ever be accepted: the first failed call ends it
#: (and the workspace check then fails the test).
GUARD = ("--target", "1", "--fail-fast")

#: 500 generated bad inputs per surface, the same 500 on every machine (derandomized).
FUZZ = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Snapshot = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Outcome:
    """How one command ended."""

    exit_code: int
    output: str


def invoke(argv: Sequence[str]) -> Outcome:
    """Run ``synthfactory ARGV`` in-process; an escaping exception is a test failure."""
    runner = CliRunner(env={"SYNTHFACTORY_WORKSPACE": None, "COLUMNS": "400"})
    result = runner.invoke(COMMAND, list(argv), catch_exceptions=False)
    return Outcome(result.exit_code, result.output)


def snapshot(root: Path) -> Snapshot:
    """Every path under ``root`` with its size and mtime (an absent root is empty)."""
    found: Snapshot = {}
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            stat = path.lstat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def assert_refused(outcome: Outcome, names: Iterable[str]) -> None:
    """A non-zero exit, no traceback, and a message naming one of ``names`` (the file, the
    line, the argument)."""
    names = list(names)
    assert outcome.exit_code not in (0, None), f"accepted: {outcome.output[-500:]!r}"
    assert "Traceback" not in outcome.output, outcome.output
    assert any(name in outcome.output for name in names), (
        f"none of {names!r} in {outcome.output[-800:]!r}"
    )


def assert_unchanged(root: Path, before: Snapshot) -> None:
    """No file or directory under ``root`` was created, removed or written."""
    after = snapshot(root)
    assert after == before, {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    }


__all__ = [
    "COMMAND",
    "ENDPOINT",
    "FAKE_URL",
    "FUZZ",
    "GUARD",
    "Outcome",
    "Snapshot",
    "assert_refused",
    "assert_unchanged",
    "invoke",
    "snapshot",
]
