"""``resume_run`` from Python brings a run's own endpoints back, as the CLI's resume does:
URLs with their keys from the environment mapping passed in, and endpoints the run brought
up itself (here the fake server, ``origin="fake"``) brought up again."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from synthfactory import EndpointConfig, RunConfig, resume_run, run_recipe
from synthfactory.errors import ConfigError
from synthfactory.ledger import Ledger
from synthfactory.runtime.endpoints import stored_endpoints
from synthfactory.runtime.executors import stored_executor
from synthfactory.runtime.local import LocalExecutor
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace

TARGET = 60


async def _interrupted_run(ws: Path, endpoint: EndpointConfig, server: FakeServer) -> str:
    started: list[str] = []
    task = asyncio.create_task(
        run_recipe(
            "hello",
            workspace=ws,
            config=RunConfig(target=TARGET, seed=5),
            endpoints=[endpoint],
            on_start=started.append,
        )
    )
    while server.stats().ok < 10:
        assert not task.done()
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return started[0]


def test_resume_run_brings_up_the_runs_own_fake_server_again(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig(latency_s=0.05)) as first:
        endpoint = EndpointConfig(
            role="generator", url=first.url, model="fake-model", concurrency=4, origin="fake"
        )
        run_id = asyncio.run(_interrupted_run(ws, endpoint, first))
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        assert ledger.run(run_id).status == "interrupted"
        stored_before = ledger.counts(run_id)["stored"]
    finally:
        ledger.close()
    assert stored_before < TARGET

    # The first server is gone: only a server brought up again can finish the run.
    summary = asyncio.run(resume_run(run_id, workspace=ws))
    assert summary.status == "finished" and summary.stored == TARGET
    ids = LanceStore(Workspace(ws).dataset_uri("hello")).read().column("item_id").to_pylist()
    assert len(ids) == TARGET == len(set(ids))


def test_stored_endpoints_take_keys_from_the_mapping_given() -> None:
    stored = {
        "generator": {"role": "generator", "url": "http://127.0.0.1:9/v1", "model": "m"},
        "judge": {
            "role": "judge",
            "url": "http://127.0.0.1:9/v1",
            "model": "j",
            "api_key_env": "JUDGE_KEY",
        },
    }
    env = {"SYNTHFACTORY_API_KEY_GENERATOR": "g-secret", "JUDGE_KEY": "j-secret"}
    with stored_endpoints(stored, env=env, concurrency=3) as by_role:
        assert by_role["generator"].api_key is not None
        assert by_role["generator"].api_key.get_secret_value() == "g-secret"
        assert by_role["judge"].api_key is not None
        assert by_role["judge"].api_key.get_secret_value() == "j-secret"
        assert {e.concurrency for e in by_role.values()} == {3}
    with (
        pytest.raises(ConfigError, match="key_env=JUDGE_KEY"),
        stored_endpoints(stored, env={}),
    ):
        pass


def test_stored_executor_is_local_for_local_and_custom_runs() -> None:
    assert isinstance(stored_executor({"kind": "local"}), LocalExecutor)
    assert isinstance(stored_executor(None), LocalExecutor)
    assert isinstance(stored_executor({"kind": "MyExecutor"}), LocalExecutor)
    with pytest.raises(ConfigError, match="need the ray executor"):
        stored_executor({"kind": "local"}, ray_address="auto")
