"""Tiered verification: cheap checks on all, sampled sandbox tier, escalation, judge last."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from synthfactory import (
    EndpointConfig,
    JudgeStep,
    ModelStep,
    Recipe,
    RunConfig,
    Verdict,
    VerificationPolicy,
    VerifyStep,
    randint,
    run_recipe,
)
from synthfactory.ledger import Ledger
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace


def cheap(payload: dict[str, Any]) -> Verdict:
    n = payload["n"]
    if n % 10 == 0:
        return Verdict.reject("multiples of ten are refused by the cheap tier")
    if n % 10 == 5:
        return Verdict.unsure("fives are borderline: escalate")
    return Verdict.ok()


def is_critical(rng: random.Random) -> bool:
    return rng.random() < 0.1


def expensive(payload: dict[str, Any]) -> Verdict:
    # Stands in for a sandboxed execution; it only records that it ran.
    return Verdict.ok("ran")


RECIPE = Recipe(
    name="tiers",
    samplers={"n": randint(0, 999), "critical": is_critical},
    steps=(
        ModelStep(name="ask", prompt="number {{ n }}"),
        VerifyStep(name="cheap", fn=cheap),
        VerifyStep(name="expensive", fn=expensive, tier="sandbox"),
        JudgeStep(name="judge", rubric="Judge EXAMPLE n={{ n }}", threshold=7),
    ),
    policy=VerificationPolicy(sample_rate=0.2),
)

SCRIPTS = [
    (r"EXAMPLE n=\d*[02468]$", '{"score": 9, "reasons": "even: fine"}'),
    (r"EXAMPLE n=\d*[13579]$", '{"score": 3, "reasons": "odd: poor"}'),
]


def _run(ws: Path, server: FakeServer) -> str:
    summary = asyncio.run(
        run_recipe(
            RECIPE,
            workspace=ws,
            config=RunConfig(target=60, seed=11),
            endpoints=[
                EndpointConfig(role="generator", url=server.url),
                EndpointConfig(role="judge", url=server.url, price_in=1.0, price_out=1.0),
            ],
        )
    )
    assert summary.status == "finished", summary.message
    assert summary.stored == 60
    return summary.run_id


def test_tiers_follow_the_policy(tmp_path: Path) -> None:
    with FakeServer(FakeServerConfig(scripts=SCRIPTS)) as server:
        run_id = _run(tmp_path / "ws", server)
    ledger = Ledger(Workspace(tmp_path / "ws").ledger_path)
    try:
        items = ledger.items(run_id)
    finally:
        ledger.close()

    sandbox_ran = sandbox_skipped = 0
    for item in items:
        by_step = {v["step"]: v for v in item.verdicts}
        n, critical = item.payload["n"], item.payload["critical"]
        if n % 10 == 0:  # stopped at the first failing tier
            assert item.state == "rejected"
            assert set(by_step) == {"cheap"}
            continue
        if "judge" in by_step or item.state == "stored":
            expensive_v = by_step["expensive"]
            if critical or n % 10 == 5:
                assert expensive_v["status"] == "pass", (n, critical)  # always runs
            if expensive_v["status"] == "skipped":
                sandbox_skipped += 1
            else:
                sandbox_ran += 1
            judge = by_step["judge"]
            assert judge["tier"] == "judge"
            assert (judge["status"] == "pass") == (n % 2 == 0)
            assert judge["details"]["score"] == (9 if n % 2 == 0 else 3)
        if item.state == "stored":
            assert n % 2 == 0 and n % 10 != 0
    assert sandbox_skipped > sandbox_ran > 0  # ~20% sampled, plus critical and escalated
    assert all(i.state != "stored" or i.payload["n"] % 2 == 0 for i in items)


def test_sampling_is_reproducible_and_reported_per_tier(tmp_path: Path) -> None:
    with FakeServer(FakeServerConfig(scripts=SCRIPTS)) as server:
        first = _run(tmp_path / "a", server)
        second = _run(tmp_path / "b", server)
    runs = []
    for ws, run_id in ((tmp_path / "a", first), (tmp_path / "b", second)):
        ledger = Ledger(Workspace(ws).ledger_path)
        try:
            runs.append(
                {
                    i.index: [(v["step"], v["status"]) for v in i.verdicts]
                    for i in ledger.items(run_id)
                }
            )
        finally:
            ledger.close()
    assert runs[0] == runs[1]

    from synthfactory.reports import run_report

    tiers = run_report(tmp_path / "a", first)["tiers"]
    assert set(tiers) == {"cheap", "sandbox", "judge"}
    assert tiers["cheap"]["skipped"] == 0
    assert tiers["sandbox"]["skipped"] > 0
    assert tiers["judge"]["passed"] == 60
    assert 0.3 < tiers["judge"]["pass_rate"] < 0.7
    assert tiers["cheap"]["failed"] == tiers["cheap"]["by_status"]["fail"] > 0
    # What each tier cost, and what the sampling saved against running it on every item.
    assert tiers["judge"]["cost"] > 0 and tiers["cheap"]["cost"] == 0
    assert tiers["cheap"]["cpu_s"] > 0
    sandbox = tiers["sandbox"]
    assert sandbox["saved_cpu_s_est"] == pytest.approx(
        sandbox["skipped"] * sandbox["cpu_s"] / sandbox["ran"]
    )
