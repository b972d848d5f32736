"""The Ray executor on a local Ray instance: same data as local, exactly once under actor
kills, and no silent hang when a pool cannot get its resources.

Runs drive the real ``RunDriver`` in this process (so the test can reach the actors'
processes) against the fake server on loopback; the CLI test runs a real subprocess that
starts and stops its own Ray instance.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from synthfactory import EndpointConfig, RunConfig, run_recipe
from synthfactory.ledger import Ledger
from synthfactory.runtime.local import LocalExecutor
from synthfactory.runtime.ray import RayConfig, RayExecutor, RayPoolConfig
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli, cli_popen, wait_until_served

pytest.importorskip("ray")
pytestmark = pytest.mark.ray

HERE = Path(__file__).resolve().parent


def _endpoint(server: FakeServer, concurrency: int = 64) -> list[EndpointConfig]:
    return [
        EndpointConfig(
            role="generator", url=server.url, model="fake-model", concurrency=concurrency
        )
    ]


def _rows(ws: Path, dataset: str, run_id: str) -> list[dict[str, Any]]:
    """The run's rows, item ids reduced to their index, in index order."""
    rows = LanceStore(Workspace(ws).dataset_uri(dataset)).read(run_id=run_id).to_pylist()
    for row in rows:
        row["index"] = int(row.pop("item_id").rsplit("-", 1)[1])
        row.pop("run_id")
    return sorted(rows, key=lambda r: r["index"])


async def test_same_dataset_under_local_and_ray(ray_instance: Any, tmp_path: Path) -> None:
    config = RunConfig(target=120, seed=7)
    with FakeServer(FakeServerConfig(latency_s=0.01)) as server:
        local = await run_recipe(
            "hello",
            workspace=tmp_path / "local",
            config=config,
            endpoints=_endpoint(server),
            executor=LocalExecutor(verify_workers=1),
        )
        ray = await run_recipe(
            "hello",
            workspace=tmp_path / "ray",
            config=config,
            endpoints=_endpoint(server),
            executor=RayExecutor(),
        )
        assert local.status == ray.status == "finished", (local.message, ray.message)
        # A third run in the ray run's workspace: every call comes from its cache.
        again = await run_recipe(
            "hello",
            workspace=tmp_path / "ray",
            config=config,
            endpoints=_endpoint(server),
            executor=RayExecutor(),
        )
    assert again.cache_hits == 120 and again.model_calls == 0
    local_rows = _rows(tmp_path / "local", "hello", local.run_id)
    ray_rows = _rows(tmp_path / "ray", "hello", ray.run_id)
    assert len(local_rows) == 120
    assert local_rows == ray_rows
    assert _rows(tmp_path / "ray", "hello", again.run_id) == ray_rows


async def test_killed_actors_lose_nothing_and_duplicate_nothing(
    ray_instance: Any, tmp_path: Path
) -> None:
    target = 300
    executor = RayExecutor(
        RayConfig(verification=RayPoolConfig(batch_size=8), batch_window_s=0.005)
    )
    killed: dict[str, int] = {}

    async def kill_when(server: FakeServer, served: int, pool: str) -> None:
        for _ in range(6000):  # polls for at most a minute
            if server.stats().ok >= served:
                break
            await asyncio.sleep(0.01)
        pid = next(a["pid"] for a in executor.actors() if a["pool"] == pool and a["ready"])
        os.kill(pid, signal.SIGKILL)
        killed[pool] = pid

    with FakeServer(FakeServerConfig(latency_s=0.1, latency_jitter_s=0.05)) as server:
        run = asyncio.create_task(
            run_recipe(
                "hello",
                workspace=tmp_path / "ws",
                config=RunConfig(target=target, seed=3, max_in_flight=64),
                endpoints=_endpoint(server, concurrency=32),
                executor=executor,
            )
        )
        await asyncio.wait_for(
            asyncio.gather(
                kill_when(server, 60, "verification"), kill_when(server, 150, "generation")
            ),
            timeout=60,
        )
        summary = await asyncio.wait_for(run, timeout=120)
    assert summary.status == "finished", summary.message
    assert set(killed) == {"verification", "generation"}
    stats = executor.stats()
    assert stats["verification"]["deaths"] >= 1
    assert stats["generation"]["deaths"] >= 1
    assert all(a["pid"] not in killed.values() for a in executor.actors())

    rows = _rows(tmp_path / "ws", "hello", summary.run_id)
    indexes = [r["index"] for r in rows]
    assert len(indexes) == len(set(indexes)) == target  # nothing twice
    assert summary.failed == 0 and summary.rejected == 0
    assert set(indexes) == set(range(target))  # nothing lost: every admitted item stored
    ledger = Ledger(Workspace(tmp_path / "ws").ledger_path)
    try:
        items = ledger.items(summary.run_id)
        attempts = [a for i in items for a in ledger.attempts(i.item_id)]
    finally:
        ledger.close()
    assert {i.state for i in items} == {"stored"}
    # The verification batch sent to the dead actor came back as an infra error and was
    # retried; every item still has exactly one passing check and one stored row.
    assert any(a.status == "infra_error" and a.step == "check" for a in attempts)
    passes = [a.item_id for a in attempts if a.step == "check" and a.status == "pass"]
    assert sorted(passes) == sorted(i.item_id for i in items)


async def test_the_verification_pool_grows_when_saturated_and_shrinks_when_idle(
    ray_instance: Any,
) -> None:
    from synthfactory.recipe.loader import resolve_recipe

    _, source = resolve_recipe(str(HERE / "spin_recipe.py"))
    executor = RayExecutor(
        RayConfig(
            verification=RayPoolConfig(
                min_actors=1, max_actors=2, num_cpus=0.5, batch_size=4, batches_per_actor=1
            ),
            idle_timeout_s=1,
        )
    )
    await executor.start(source, {})
    try:
        payload = {"answer": {"fact": "Honeybees dance to share where flowers are."}}
        # Keep the pool saturated in waves until the second actor has started and served:
        # on a loaded 2-core machine an actor can take longer to start than one wave lasts.
        # A pool that never grows still fails, after the deadline.
        outcomes: list[Any] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            wave = await asyncio.gather(*(executor.run_step("check", payload) for _ in range(400)))
            outcomes.extend(wave)
            if len({o.worker for o in wave}) == 2:
                break
        assert all(o.verdict is not None and o.verdict.passed for o in outcomes)
        workers = {o.worker for o in outcomes}
        assert len(workers) == 2, "a saturated pool should have grown to its maximum"
        assert executor.stats()["verification"]["started"] == 2
        for _ in range(100):  # idle for idle_timeout_s: back to the minimum
            if executor.stats()["verification"]["actors"] == 1:
                break
            await asyncio.sleep(0.1)
        assert executor.stats()["verification"]["actors"] == 1
    finally:
        await executor.close()


async def test_a_pool_asking_for_more_cpus_than_the_cluster_has_fails_clearly(
    ray_instance: Any, tmp_path: Path
) -> None:
    executor = RayExecutor(RayConfig(verification=RayPoolConfig(num_cpus=64), start_timeout_s=3))
    started = time.monotonic()
    with FakeServer(FakeServerConfig(latency_s=0.0)) as server:
        summary = await asyncio.wait_for(
            run_recipe(
                "hello",
                workspace=tmp_path / "ws",
                config=RunConfig(target=50),
                endpoints=_endpoint(server),
                executor=executor,
            ),
            timeout=60,
        )
    assert time.monotonic() - started < 30
    assert summary.status == "stopped"
    assert "verification pool could not start an actor" in summary.message
    assert "'CPU': 64" in summary.message and "'CPU': 2" in summary.message


async def test_generation_pinned_to_a_resource_no_node_offers_fails_clearly(
    ray_instance: Any, tmp_path: Path
) -> None:
    # As on KubeRay when the GPU group never comes up: nothing offers `generation`.
    executor = RayExecutor(
        RayConfig(
            generation=RayPoolConfig(num_cpus=1, resources={"generation": 1}),
            start_timeout_s=2,
        )
    )
    with FakeServer(FakeServerConfig(latency_s=0.0)) as server:
        summary = await asyncio.wait_for(
            run_recipe(
                "hello",
                workspace=tmp_path / "ws",
                config=RunConfig(target=10),
                endpoints=_endpoint(server),
                executor=executor,
            ),
            timeout=60,
        )
    assert summary.status == "stopped"
    assert "generation pool could not start an actor" in summary.message
    assert "'generation': 1" in summary.message
    assert executor.actors() == []  # the executor cleaned up after a failed start


async def test_verifiers_asking_for_every_cpu_do_not_starve_generation(
    ray_instance: Any, tmp_path: Path
) -> None:
    # Generation wants a CPU too here; two verification actors of one CPU each would take
    # both. Generation starts first, the verifier that finds no CPU is given up after the
    # start timeout, and the run finishes on the one that did start.
    executor = RayExecutor(
        RayConfig(
            generation=RayPoolConfig(num_cpus=1),
            verification=RayPoolConfig(min_actors=2, max_actors=2, num_cpus=1),
            start_timeout_s=3,
        )
    )
    started = time.monotonic()
    with FakeServer(FakeServerConfig(latency_s=0.02)) as server:
        summary = await asyncio.wait_for(
            run_recipe(
                str(HERE / "spin_recipe.py"),
                workspace=tmp_path / "ws",
                config=RunConfig(target=200),
                endpoints=_endpoint(server),
                executor=executor,
            ),
            timeout=90,
        )
    assert summary.status == "finished", summary.message
    assert summary.stored == 200
    assert time.monotonic() - started < 60
    verification = executor.stats()["verification"]
    assert verification["started"] == 1 and verification["unplaced"] == 1


async def test_a_verifier_that_never_returns_stops_the_run_within_the_stall_bound(
    ray_instance: Any, tmp_path: Path
) -> None:
    executor = RayExecutor(RayConfig(stall_timeout_s=3))
    started = time.monotonic()
    with FakeServer(FakeServerConfig(latency_s=0.0)) as server:
        summary = await asyncio.wait_for(
            run_recipe(
                str(HERE / "hang_recipe.py"),
                workspace=tmp_path / "ws",
                config=RunConfig(target=20),
                endpoints=_endpoint(server),
                executor=executor,
            ),
            timeout=60,
        )
    assert time.monotonic() - started < 30
    assert summary.status == "stopped"
    assert "verification pool made no progress for 3 s" in summary.message
    assert "batches in flight" in summary.message


async def test_sandbox_steps_run_in_the_drivers_sandbox_pool(
    ray_instance: Any, tmp_path: Path
) -> None:
    from synthfactory import ModelStep, Recipe
    from synthfactory.recipe.model import SandboxStep, VerificationPolicy
    from synthfactory.recipe.samplers import choice

    programs = {
        "good": "def add(a, b):\n    return a + b\nassert add(2, 3) == 5\n",
        "wrong": "def add(a, b):\n    return a - b\nassert add(2, 3) == 5\n",
    }
    recipe = Recipe(
        name="sandboxed-on-ray",
        samplers={"kind": choice(sorted(programs))},
        steps=(
            ModelStep(name="write", prompt="PROGRAM {{ kind }}"),
            SandboxStep(name="run", code="{{ write }}", timeout_s=2.0),
        ),
        policy=VerificationPolicy(sample_rate=1.0),
    )
    scripts = [(f"^PROGRAM {kind}$", code) for kind, code in programs.items()]
    with FakeServer(FakeServerConfig(scripts=scripts)) as server:
        summary = await run_recipe(
            recipe,
            workspace=tmp_path / "ws",
            config=RunConfig(target=6, seed=5, max_items=80),
            endpoints=_endpoint(server),
            executor=RayExecutor(),
        )
    assert summary.status == "finished", summary.message
    rows = LanceStore(Workspace(tmp_path / "ws").dataset_uri(recipe.dataset_name)).read(
        run_id=summary.run_id
    )
    assert rows.num_rows == 6
    assert set(rows.column("kind").to_pylist()) == {"good"}
    assert summary.rejected > 0  # the wrong programs were run, and failed


def _ray_sessions(temp: str) -> list[str]:
    return sorted(p.name for p in Path(temp).glob("session_2*"))


def test_cli_interrupted_on_ray_resumes_on_ray(tmp_path: Path) -> None:
    temp = tempfile.mkdtemp(prefix="sfray-", dir="/tmp")
    config = tmp_path / "ray.yaml"
    config.write_text(f"temp_dir: {temp}\nverification:\n  max_actors: 1\n")
    ws = tmp_path / "ws"
    ray_args = ["--executor", "ray", "--ray-config", str(config)]
    try:
        with FakeServer(FakeServerConfig(latency_s=0.1)) as server:
            proc = cli_popen(
                "run",
                "hello",
                "-w",
                str(ws),
                "--target",
                "150",
                "--endpoint",
                f"generator={server.url},model=fake-model",
                "--concurrency",
                "4",
                *ray_args,
                "--json",
            )
            wait_until_served(server, proc, ok=20)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 130, err
            status = cli("status", "-w", str(ws), "--json")
            (run,) = json.loads(status.stdout)
            assert run["status"] == "interrupted"
            assert run["stored"] < 150

            sessions = _ray_sessions(temp)
            # No --executor: the run remembers it ran on Ray, and with which settings.
            done = cli("resume", run["run_id"], "-w", str(ws), "--json")
            assert done.returncode == 0, done.stderr
            assert len(_ray_sessions(temp)) == len(sessions) + 1  # resumed on a Ray instance
            summary = json.loads(done.stdout)
            assert summary["status"] == "finished" and summary["stored"] == 150
            assert server.stats().requests <= 150 + 4  # at most the calls in flight, twice
            bad = cli("run", "hello", "-w", str(ws), "--ray-address", "auto")
            assert bad.returncode == 2 and "--executor ray" in bad.stderr
    finally:
        shutil.rmtree(temp, ignore_errors=True)
