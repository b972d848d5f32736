"""A run's quality SLA (``--max-defect-rate``): stored with the run, kept on resume."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from synthfactory import EndpointConfig, resume_run
from synthfactory.ledger import Ledger
from synthfactory.testing import FakeServer
from synthfactory.workspace import Workspace
from tests.conftest import cli
from tests.integration.qa_support import HELLO_YAML, NUMBERS, run_on_fake


def test_cli_run_stores_the_sla_and_a_run_with_nothing_stored_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    hello = ["run", "hello", "-w", str(ws), "--target", "3", "--endpoint", "generator=fake"]
    done = cli(*hello, "--max-defect-rate", "0.05", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["quality"]["max_defect_rate"] == 0.05
    assert summary["quality"]["releasable"] is False
    assert summary["quality"]["reason"].startswith("no qa sample yet")
    bad = cli(*hello, "--max-defect-rate", "1.5")
    assert bad.returncode == 2 and "--max-defect-rate" in bad.stderr

    # A run that stored nothing (every example rejected) has nothing to sample.
    strict = tmp_path / "strict.yaml"
    strict.write_text(HELLO_YAML.read_text().replace("min: 8", "min: 390"))
    done = cli(
        "run",
        str(strict),
        "-w",
        str(ws),
        "--target",
        "1",
        "--max-items",
        "2",
        "--json",
        "--endpoint",
        "generator=fake",
    )
    assert done.returncode == 1, done.stderr
    empty = json.loads(done.stdout)
    assert empty["status"] == "exhausted" and empty["stored"] == 0
    done = cli("qa", empty["run_id"], "-w", str(ws), "--sample", "2", "--verifier", "human")
    assert done.returncode == 2
    assert "has no stored items" in done.stderr and "resume it first" in done.stderr


def test_resume_keeps_the_sla(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run_id = run_on_fake(ws, NUMBERS, 4, max_defect_rate=0.02)
    ledger = Ledger(Workspace(ws, create=False).ledger_path)
    try:
        ledger.set_run_status(run_id, "interrupted", "interrupted; resume it to carry on")
    finally:
        ledger.close()
    with FakeServer() as server:
        summary = asyncio.run(
            resume_run(
                run_id,
                workspace=ws,
                recipe=NUMBERS,
                endpoints=[EndpointConfig(role="generator", url=server.url)],
            )
        )
    assert summary.status == "finished"
    assert summary.quality["max_defect_rate"] == 0.02
    assert summary.quality["releasable"] is False
    assert summary.quality["reason"].startswith("no qa sample yet")
