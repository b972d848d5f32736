"""Recipes written in Python run end to end through both pools; failures are kept, not dropped."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from synthfactory import (
    Dataset,
    EndpointConfig,
    ModelStep,
    PythonStep,
    Recipe,
    RunConfig,
    Verdict,
    VerifyStep,
    choice,
    randint,
    run_recipe,
)
from synthfactory.ledger import Ledger
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli

SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "score": {"type": "integer", "minimum": 0, "maximum": 9},
    },
    "required": ["answer", "score"],
}


def add_length(payload: dict[str, Any]) -> dict[str, Any]:
    """A Python step: runs in a worker process."""
    import os

    return {"length": len(payload["out"]["answer"]), "worker_pid": os.getpid()}


def even_numbers_only(payload: dict[str, Any]) -> Verdict:
    """A verifier that rejects about half the items, so rejection is exercised."""
    if payload["n"] % 2:
        return Verdict.reject(f"n={payload['n']} is odd")
    return Verdict.ok()


def explode(payload: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("this step always fails")


RECIPE = Recipe(
    name="numbers",
    samplers={"n": randint(0, 99), "colour": choice(["red", "green"])},
    steps=(
        ModelStep(
            name="ask",
            prompt="Say something {{ colour }} about {{ n }}.",
            schema=SCHEMA,
            output="out",
        ),
        PythonStep(name="measure", fn=add_length),
        VerifyStep(name="even", fn=even_numbers_only),
    ),
    dataset=Dataset(name="numbers", fields=("n", "colour", "out", "length")),
)


def _endpoint(server: FakeServer) -> list[EndpointConfig]:
    return [EndpointConfig(role="generator", url=server.url)]


def test_python_recipe_runs_through_both_pools(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer() as server:
        summary = asyncio.run(
            run_recipe(
                RECIPE,
                workspace=ws,
                config=RunConfig(target=30, seed=1),
                endpoints=_endpoint(server),
            )
        )
    assert summary.status == "finished"
    assert summary.stored == 30
    assert summary.rejected > 5  # about half the items are odd
    rows = LanceStore(Workspace(ws).dataset_uri("numbers")).read().to_pylist()
    assert len(rows) == 30
    assert all(r["n"] % 2 == 0 for r in rows)
    assert all(r["length"] == len(r["out"]["answer"]) for r in rows)
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        rejected = ledger.items(summary.run_id, ["rejected"])
        pids = {i.payload["worker_pid"] for i in ledger.items(summary.run_id, ["stored"])}
    finally:
        ledger.close()
    import os

    assert os.getpid() not in pids, "the Python step ran in the driver, not the verification pool"
    assert len(rejected) == summary.rejected
    assert all("is odd" in (i.error or "") for i in rejected)
    assert all(i.verdicts and i.verdicts[-1]["status"] == "fail" for i in rejected)


def test_invalid_json_is_retried_then_recorded_as_failure(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig(invalid_json_rate=1.0)) as server:
        summary = asyncio.run(
            run_recipe(
                RECIPE,
                workspace=ws,
                config=RunConfig(target=3, max_items=5),
                endpoints=_endpoint(server),
            )
        )
        assert server.stats().requests == 5 * 3  # 5 items, 3 attempts each, no more
    assert summary.status == "exhausted"
    assert summary.stored == 0
    assert summary.failed == 5
    failed = cli("status", summary.run_id, "-w", str(ws), "--failed", "--json")
    items = json.loads(failed.stdout)["failed_items"]
    assert len(items) == 5
    assert all(i["attempts"] == 3 and "invalid JSON" in i["error"] for i in items)
    shown = json.loads(cli("show", items[0]["item_id"], "-w", str(ws)).stdout)
    assert [a["status"] for a in shown["attempts"]] == ["invalid"] * 3
    assert len({a["request_key"] for a in shown["attempts"]}) == 3  # each retry is a new request


def test_a_raising_step_fails_its_items_with_the_error(tmp_path: Path) -> None:
    recipe = Recipe(
        name="broken",
        steps=(ModelStep(name="ask", prompt="hi"), PythonStep(name="boom", fn=explode)),
    )
    with FakeServer() as server:
        summary = asyncio.run(
            run_recipe(
                recipe,
                workspace=tmp_path / "ws",
                config=RunConfig(target=2, max_items=4),
                endpoints=_endpoint(server),
            )
        )
    assert summary.failed == 4
    assert summary.stored == 0


def test_unknown_role_and_missing_role_are_clear_errors(tmp_path: Path) -> None:
    from synthfactory.errors import ConfigError

    with FakeServer() as server:
        with pytest.raises(ConfigError, match="not used by recipe"):
            asyncio.run(
                run_recipe(
                    RECIPE,
                    workspace=tmp_path / "ws",
                    config=RunConfig(target=1),
                    endpoints=[*_endpoint(server), EndpointConfig(role="judge", url=server.url)],
                )
            )
        with pytest.raises(ConfigError, match="--endpoint generator=URL"):
            asyncio.run(run_recipe(RECIPE, workspace=tmp_path / "ws", config=RunConfig(target=1)))


def kill_my_worker(payload: dict[str, Any]) -> dict[str, Any]:
    import os

    os._exit(3)


def test_a_step_that_kills_its_worker_stops_the_run_with_a_clear_message(tmp_path: Path) -> None:
    recipe = Recipe(
        name="crasher",
        steps=(ModelStep(name="ask", prompt="hi"), PythonStep(name="crash", fn=kill_my_worker)),
    )
    with FakeServer() as server:
        summary = asyncio.run(
            run_recipe(
                recipe,
                workspace=tmp_path / "ws",
                config=RunConfig(target=5),
                endpoints=_endpoint(server),
            )
        )
    assert summary.status == "stopped"
    assert "verification pool died" in summary.message
    assert summary.stored == 0
    # Items whose verification never finished stay active: a resume would pick them up.
    ledger = Ledger(Workspace(tmp_path / "ws").ledger_path)
    try:
        assert ledger.counts(summary.run_id)["active"] >= 1
    finally:
        ledger.close()


def slow_check(payload: dict[str, Any]) -> Verdict:
    import time

    time.sleep(0.02)
    return Verdict.ok()


SLOW = Recipe(
    name="slow_verifier",
    samplers={"n": randint(0, 10**6)},
    steps=(ModelStep(name="ask", prompt="{{ n }}"), VerifyStep(name="slow", fn=slow_check)),
)


def test_a_slow_verifier_holds_back_generation(tmp_path: Path) -> None:
    """Backpressure: requests sent never run ahead of verification by more than the
    in-flight bound, however fast the endpoint is."""
    from synthfactory.runtime.local import LocalExecutor

    gaps: list[int] = []
    with FakeServer() as server:

        def watch(progress: Any) -> None:
            judged = progress.usable + progress.rejected + progress.failed
            gaps.append(server.stats().requests - judged)

        summary = asyncio.run(
            run_recipe(
                SLOW,
                workspace=tmp_path / "ws",
                config=RunConfig(target=60, max_in_flight=8),
                endpoints=_endpoint(server),
                executor=LocalExecutor(verify_workers=1),
                observer=watch,
            )
        )
    assert summary.stored == 60
    assert len(gaps) >= 3  # 60 x 20 ms on one worker: over a second of samples
    assert max(gaps) <= 8, gaps
    assert max(gaps) >= 4, "verification never fell behind; the test shows nothing"


def test_hourly_price_is_charged_for_the_run_time(tmp_path: Path) -> None:
    with FakeServer() as server:
        summary = asyncio.run(
            run_recipe(
                SLOW,
                workspace=tmp_path / "ws",
                config=RunConfig(target=20),
                endpoints=[EndpointConfig(role="generator", url=server.url, price_hour=3600.0)],
            )
        )
    # 3600 USD per hour is 1 USD per second of run time.
    assert summary.cost == pytest.approx(summary.elapsed_s, rel=1e-6)
    assert summary.cost > 0
    assert summary.cost_per_usable == pytest.approx(summary.cost / 20)
