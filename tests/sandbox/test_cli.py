"""The batch command: as a function, and through the typer app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthfactory.errors import UserInputError
from synthfactory.sandbox import FakeSandbox, SandboxPool
from synthfactory.sandbox.cli import OUTPUT_KEYS, app, exec_jobs


def write_jobs(path: Path, jobs: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    return path


def test_exec_jobs_writes_one_verdict_per_job_in_order(pool: SandboxPool, tmp_path: Path) -> None:
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        [
            {"id": "ok", "code": "print(6 * 7)", "timeout_s": 2},
            {"id": "bad", "code": "assert False", "timeout_s": 2},
            {"id": "loop", "code": "while True: pass", "timeout_s": 0.3},
        ],
    )
    out = tmp_path / "verdicts.jsonl"
    counts = exec_jobs(jobs, out, pool)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(d["id"], d["verdict"]) for d in lines] == [
        ("ok", "pass"),
        ("bad", "fail"),
        ("loop", "timeout"),
    ]
    assert all(tuple(d) == OUTPUT_KEYS for d in lines)
    assert lines[0]["stdout"] == "42\n"
    assert lines[0]["isolation"] == list(pool.isolation.layers)
    assert counts == {"pass": 1, "fail": 1, "timeout": 1}


def test_exec_jobs_rejects_a_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "jobs.jsonl"
    bad.write_text('{"id": "a", "code": "print(1)"}\nnot json\n')
    with pytest.raises(UserInputError, match=r"jobs\.jsonl:2"):
        exec_jobs(bad, tmp_path / "out.jsonl", FakeSandbox())


def test_every_option_has_help() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help, name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.name}"


def test_the_typer_app_runs_end_to_end(isolation_ok: None, tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", [{"id": "a", "code": "print('hi')", "timeout_s": 1}])
    out = tmp_path / "out.jsonl"
    runner = (
        "import sys\nfrom typer.testing import CliRunner\n"
        "from synthfactory.sandbox.cli import app\n"
        "r = CliRunner().invoke(app, sys.argv[1:])\n"
        "print(r.output)\nsys.exit(r.exit_code)\n"
    )
    args = ["exec", "--input", str(jobs), "--output", str(out), "--workers", "1"]
    proc = subprocess.run(
        [sys.executable, "-c", runner, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = out.read_text().splitlines()
    assert json.loads(line)["verdict"] == "pass"
    assert "1 jobs: pass=1" in proc.stdout
