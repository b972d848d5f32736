"""Replay with no endpoint, 429 storms, an endpoint going down and coming back, secrets."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli, cli_env, cli_popen, wait_until_served


def _content(ws: Path, run_id: str) -> list[tuple[int, str]]:
    """A run's rows without their run-specific ids, in item order."""
    table = LanceStore(Workspace(ws).dataset_uri("hello")).read(run_id=run_id).to_pylist()
    rows = []
    for row in table:
        index = int(row.pop("item_id").rsplit("-", 1)[1])
        row.pop("run_id")
        rows.append((index, json.dumps(row, sort_keys=True)))
    return sorted(rows)


def _run_json(*args: str, timeout: float = 120) -> dict[str, object]:
    done = cli(*args, "--json", timeout=timeout)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_replay_with_the_server_stopped_gives_the_same_dataset(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer() as server:
        first = _run_json(
            "run",
            "hello",
            "-w",
            str(ws),
            "--target",
            "60",
            "--seed",
            "7",
            "--endpoint",
            f"generator={server.url}",
        )
        calls = server.stats().requests
    assert first["model_calls"] == calls == 60

    replay = _run_json(
        "run",
        "hello",
        "-w",
        str(ws),
        "--target",
        "60",
        "--seed",
        "7",
        "--replay",
        "--dataset",
        "hello",
    )
    assert replay["status"] == "finished"
    assert replay["model_calls"] == 0
    assert replay["cache_hits"] == 60
    assert _content(ws, str(first["run_id"])) == _content(ws, str(replay["run_id"]))

    # Another seed asks different questions: replay must refuse, not call anything.
    miss = cli("run", "hello", "-w", str(ws), "--target", "5", "--seed", "8", "--replay", "--json")
    assert miss.returncode == 1
    assert "not in this workspace's cache" in json.loads(miss.stdout)["message"]


def test_a_second_run_with_the_same_seed_pays_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer() as server:
        args = (
            "run",
            "hello",
            "-w",
            str(ws),
            "--target",
            "40",
            "--endpoint",
            f"generator={server.url}",
        )
        _run_json(*args)
        second = _run_json(*args)
        assert server.stats().requests == 40
    assert second["cache_hits"] == 40
    assert second["cost"] == 0


def test_a_429_storm_loses_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    config = FakeServerConfig(rate_429=0.5, retry_after_s=0.05, seed=3)
    with FakeServer(config) as server:
        summary = _run_json(
            "run",
            "hello",
            "-w",
            str(ws),
            "--target",
            "200",
            "--endpoint",
            f"generator={server.url}",
            timeout=180,
        )
        stats = server.stats()
    assert summary["stored"] == 200
    assert summary["failed"] == 0
    assert stats.rate_limited > 50
    assert stats.ok == 200


async def _immediate_retry_requests(url: str, bodies: list[dict[str, object]]) -> int:
    """The baseline: retry every 429 at once, 64 in flight, until each request succeeds."""
    sent = 0
    sem = asyncio.Semaphore(64)
    async with aiohttp.ClientSession() as session:

        async def one(body: dict[str, object]) -> None:
            nonlocal sent
            async with sem:
                while True:
                    sent += 1
                    async with session.post(f"{url}/chat/completions", json=body) as resp:
                        await resp.read()
                        if resp.status == 200:
                            return

        await asyncio.wait_for(asyncio.gather(*(one(b) for b in bodies)), timeout=120)
    return sent


@pytest.mark.slow
def test_rate_limited_endpoint_gets_fewer_requests_than_immediate_retry(tmp_path: Path) -> None:
    n = 150
    limits = FakeServerConfig(rate_limit_rps=100.0, rate_limit_burst=10)
    with FakeServer(limits) as server:
        summary = _run_json(
            "run",
            "hello",
            "-w",
            str(tmp_path / "ws"),
            "--target",
            str(n),
            "--endpoint",
            f"generator={server.url}",
            timeout=180,
        )
        ours = server.stats()
    assert summary["stored"] == n
    assert ours.rate_limited > 0, "the limiter never engaged; the test shows nothing"

    bodies = [
        {"model": "fake-model", "messages": [{"role": "user", "content": f"q{i}"}]}
        for i in range(n)
    ]
    with FakeServer(FakeServerConfig(rate_limit_rps=100.0, rate_limit_burst=10)) as server:
        baseline = asyncio.run(_immediate_retry_requests(server.url, bodies))
    assert ours.requests < baseline / 2, (ours.requests, baseline)


def test_endpoint_down_stops_the_run_and_resume_completes_it(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    server = FakeServer(FakeServerConfig(latency_s=0.1)).start()
    try:
        proc = cli_popen(
            "run",
            "hello",
            "-w",
            str(ws),
            "--target",
            "300",
            "--endpoint",
            f"generator={server.url}",
            "--concurrency",
            "8",
            "--json",
        )
        wait_until_served(server, proc, ok=20)
        server.stop()
        stopped_at = time.monotonic()
        out, err = proc.communicate(timeout=90)
        took = time.monotonic() - stopped_at
        assert proc.returncode == 1, err
        summary = json.loads(out)
        assert summary["status"] == "stopped"
        assert "looks down" in summary["message"]
        assert "resume" in summary["message"]
        assert summary["stored"] < 300
        assert took < 60, f"took {took:.0f}s to notice the endpoint was down"

        server.start()
        done = _run_json("resume", str(summary["run_id"]), "-w", str(ws))
        assert done["status"] == "finished"
        assert done["stored"] == 300
        assert done["failed"] == 0
    finally:
        server.stop()
    ids = LanceStore(Workspace(ws).dataset_uri("hello")).read().column("item_id").to_pylist()
    assert len(ids) == len(set(ids)) == 300


def test_api_key_never_reaches_workspace_or_output(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    secret = "sk-test-DO-NOT-LEAK-8f3a9c"
    with FakeServer() as server:
        done = cli(
            "run",
            "hello",
            "-w",
            str(ws),
            "--target",
            "20",
            "--endpoint",
            f"generator={server.url},key_env=MY_PROVIDER_KEY",
            "--json",
            env=cli_env(MY_PROVIDER_KEY=secret),
        )
        assert done.returncode == 0, done.stderr
        run_id = json.loads(done.stdout)["run_id"]
        status = cli("status", run_id, "-w", str(ws), "--json")
        shown = cli("show", f"{run_id}-000000", "-w", str(ws))
    for text in (done.stdout, done.stderr, status.stdout, shown.stdout):
        assert secret not in text
    assert "MY_PROVIDER_KEY" in status.stdout  # the variable's name is kept, for resume
    leaks = [p for p in ws.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaks == []


@pytest.mark.parametrize(
    ("endpoint", "code", "message"),
    [
        ("generator=http://127.0.0.1:9/v1,key_env=NOT_SET_ANYWHERE", 2, "NOT_SET_ANYWHERE"),
        ("generator=http://127.0.0.1:9/v1", 1, "unreachable"),
    ],
)
def test_bad_endpoints_are_clear_errors(
    tmp_path: Path, endpoint: str, code: int, message: str
) -> None:
    done = cli("run", "hello", "-w", str(tmp_path / "ws"), "--target", "2", "--endpoint", endpoint)
    assert done.returncode == code
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_fail_fast_stops_at_the_first_failed_call(tmp_path: Path) -> None:
    with FakeServer(FakeServerConfig(error_rate=1.0)) as server:
        done = cli(
            "run",
            "hello",
            "-w",
            str(tmp_path / "ws"),
            "--target",
            "50",
            "--fail-fast",
            "--concurrency",
            "4",
            "--endpoint",
            f"generator={server.url}",
            "--json",
        )
        sent = server.stats().requests
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "stopped"
    assert "--fail-fast" in summary["message"] and "HTTP 500" in summary["message"]
    assert sent <= 4  # no retries: only what was already in flight


def test_cost_per_usable_example_comes_from_the_price_table(tmp_path: Path) -> None:
    with FakeServer() as server:
        summary = _run_json(
            "run",
            "hello",
            "-w",
            str(tmp_path / "ws"),
            "--target",
            "10",
            "--endpoint",
            f"generator={server.url},price_in=2.0,price_out=8.0",
        )
        stats = server.stats()
    expected = (stats.prompt_tokens * 2.0 + stats.completion_tokens * 8.0) / 1e6
    assert summary["prompt_tokens"] == stats.prompt_tokens
    assert summary["cost"] == pytest.approx(expected)
    assert summary["cost_per_usable"] == pytest.approx(expected / 10)
