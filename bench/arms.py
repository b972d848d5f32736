"""The two arms of the hello benchmark, each run as its own process by bench_hello.py.

    python bench/arms.py bare URL N CONCURRENCY
    python bench/arms.py synthfactory URL N CONCURRENCY WORKSPACE [RECIPE [EXECUTOR]]

EXECUTOR is ``local`` (the default), ``ray`` (a private local Ray instance, pools sized by
default: one verification actor per CPU, 2 x 0.75 CPU on 2 cores) or ``ray-1v`` (one
verification actor of a whole CPU, the first default).

Both send the same requests: the ones the ``hello`` recipe renders for items 0..N-1 with
seed 0. Each prints one JSON line: items, wall seconds, items/s.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import aiohttp
import orjson


def hello_bodies(n: int, model: str) -> list[bytes]:
    """The request bodies the hello recipe sends for its first ``n`` items."""
    from synthfactory.recipe.loader import resolve_recipe
    from synthfactory.recipe.model import ModelStep, derive_seed
    from synthfactory.recipe.render import render_request

    recipe, _ = resolve_recipe("hello")
    step = recipe.steps[0]
    assert isinstance(step, ModelStep)
    bodies = []
    for i in range(n):
        seed = derive_seed(0, i)
        payload = recipe.initial_payload(i, seed)
        request = render_request(step, payload, model=model, item_seed=seed, attempt=0)
        bodies.append(orjson.dumps(request.body()))
    return bodies


async def bare(url: str, n: int, concurrency: int) -> dict[str, float]:
    """A bare aiohttp + semaphore loop: send, parse the JSON answer, keep it in a list."""
    bodies = hello_bodies(n, "fake-model")
    results: list[object] = []
    sem = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(body: bytes) -> None:
            async with (
                sem,
                session.post(
                    f"{url}/chat/completions",
                    data=body,
                    headers={"Content-Type": "application/json"},
                ) as resp,
            ):
                data = orjson.loads(await resp.read())
                results.append(orjson.loads(data["choices"][0]["message"]["content"]))

        await asyncio.gather(*(one(b) for b in bodies))
    wall = time.perf_counter() - started
    assert len(results) == n
    return {"items": n, "wall_s": wall, "items_per_s": n / wall}


def make_executor(name: str, workspace: str) -> Any:
    """The executor an arm names (``local``, ``ray``, ``ray-1v``)."""
    if name == "local":
        from synthfactory.runtime.local import LocalExecutor

        return LocalExecutor()
    import tempfile

    from synthfactory.runtime.ray import RayConfig, RayExecutor, RayPoolConfig

    # Ray's files in a short private directory (Unix socket paths: 107 characters at most).
    temp = tempfile.mkdtemp(prefix="sfray-", dir="/tmp")
    if name == "ray":
        return RayExecutor(RayConfig(temp_dir=temp))
    if name == "ray-1v":
        # The first default: one verification actor of a whole CPU (one idle core on 2).
        return RayExecutor(RayConfig(temp_dir=temp, verification=RayPoolConfig(num_cpus=1)))
    raise SystemExit(f"unknown executor {name!r}")


async def synthfactory_arm(
    url: str,
    n: int,
    concurrency: int,
    workspace: str,
    *,
    recipe: str = "hello",
    executor: str = "local",
) -> dict[str, float]:
    """A recipe through run_recipe: cache, ledger, verification pool, Lance commits."""
    import shutil

    from synthfactory import EndpointConfig, RunConfig, run_recipe

    endpoint = EndpointConfig(
        role="generator", url=url, model="fake-model", concurrency=concurrency
    )
    config = RunConfig(target=n, seed=0, max_in_flight=concurrency * 2)
    steps_on = make_executor(executor, workspace)
    timings = _time_start_and_close(steps_on)
    started = time.perf_counter()
    try:
        summary = await run_recipe(
            recipe,
            workspace=workspace,
            config=config,
            endpoints=[endpoint],
            executor=steps_on,  # type: ignore[arg-type]
        )
    finally:
        temp = getattr(getattr(steps_on, "config", None), "temp_dir", None)
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    wall = time.perf_counter() - started
    assert summary.stored == n, summary
    assert summary.model_calls == n, summary
    # steady_s: the run without the executor's start and close (a Ray instance's start-up).
    steady = wall - timings["start_s"] - timings["close_s"]
    return {"items": n, "wall_s": wall, "items_per_s": n / wall, "steady_s": steady, **timings}


def _time_start_and_close(executor: Any) -> dict[str, float]:
    """Wrap the executor's start and close to time them (filled in as they run)."""
    timings = {"start_s": 0.0, "close_s": 0.0}
    start, close = executor.start, executor.close

    async def timed_start(*args: Any) -> None:
        t = time.perf_counter()
        await start(*args)
        timings["start_s"] = time.perf_counter() - t

    async def timed_close() -> None:
        t = time.perf_counter()
        await close()
        timings["close_s"] = time.perf_counter() - t

    executor.start, executor.close = timed_start, timed_close
    return timings


def buffer_answers() -> None:
    """The ``synthfactory-buffered`` arm: answers wait in memory for the next dataset
    commit, as before durable-on-receipt (to measure what durability costs; a kill loses
    them, so no user should want this)."""
    from synthfactory.cache import ResponseCache

    async def keep(self: ResponseCache, key: str, response: Any) -> None:
        self.put(key, response)

    ResponseCache.keep = keep  # type: ignore[method-assign]


def main() -> None:
    arm, url, n, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if arm == "bare":
        result = asyncio.run(bare(url, n, concurrency))
    else:
        if arm == "synthfactory-buffered":
            buffer_answers()
        rest = sys.argv[6:]
        recipe = rest[0] if rest else "hello"
        executor = rest[1] if len(rest) > 1 else "local"
        result = asyncio.run(
            synthfactory_arm(url, n, concurrency, sys.argv[5], recipe=recipe, executor=executor)
        )
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
