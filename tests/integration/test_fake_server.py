"""The fake OpenAI-compatible server, exercised over real loopback HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import orjson
import pytest

import synthfactory.testing
from synthfactory.testing import FakeServer, FakeServerConfig, FakeStats
from synthfactory.testing import fake_server as fake_server_module
from synthfactory.testing.fake_server import request_key
from tests.integration.fake_support import (
    ENUM,
    USER_HI,
    chat,
    content_of,
    is_chat_completion,
    schema_body,
)


async def test_plain_answer_is_deterministic_per_request(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    body = {"model": "m", "messages": USER_HI, "seed": 1}
    _, _, first = await chat(session, server, body)
    _, _, again = await chat(session, server, {**body, "temperature": 0.7})
    _, _, other_seed = await chat(session, server, {**body, "seed": 2})
    _, _, other_text = await chat(session, server, {**body, "messages": [{"role": "user"}]})

    assert content_of(first) == f"fake answer {request_key(body)[:12]}"
    assert content_of(again) == content_of(first)
    assert content_of(other_seed) != content_of(first)
    assert content_of(other_text) != content_of(first)


async def test_answer_has_openai_shape_usage_and_headers(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    server.config.model = "served-model"
    messages = [
        {"role": "system", "content": "a" * 40},
        {"role": "user", "content": [{"type": "text", "text": "b" * 8}]},
    ]
    status, headers, answer = await chat(session, server, {"model": "m", "messages": messages})

    assert status == 200
    assert headers["x-ratelimit-remaining-requests"] == "1000"
    assert answer["object"] == "chat.completion"
    assert answer["id"].startswith("chatcmpl-")
    assert isinstance(answer["created"], int)
    assert answer["model"] == "served-model"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["choices"][0]["message"]["role"] == "assistant"
    completion = len(content_of(answer)) // 4
    assert answer["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": completion,
        "total_tokens": 12 + completion,
    }
    stats = server.stats()
    assert (stats.prompt_tokens, stats.completion_tokens) == (12, completion)


async def test_rate_429_sends_retry_after(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    server.config.rate_429 = 1.0
    status, headers, answer = await chat(session, server, {"messages": USER_HI})

    assert status == 429
    assert headers["Retry-After"] == "0.05"
    assert answer["error"]["type"] == "rate_limit_exceeded"
    server.config.retry_after_s = 2.0
    _, headers, _ = await chat(session, server, {"messages": USER_HI})
    assert headers["Retry-After"] == "2"
    assert server.stats().rate_limited == 2


async def test_error_rate_one_answers_500(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    server.config.error_rate = 1.0
    statuses = [(await chat(session, server, {"messages": USER_HI}))[0] for _ in range(3)]

    assert statuses == [500, 500, 500]
    stats = server.stats()
    assert (stats.requests, stats.errors_500, stats.ok) == (3, 3, 0)


@pytest.mark.parametrize(
    ("knob", "counter", "says"),
    [
        ("truncated_body_rate", "truncated", "Not enough data to satisfy content length"),
        ("reset_rate", "resets", "reset by peer"),
    ],
)
async def test_an_answer_breaks_off_halfway(
    server: FakeServer, session: aiohttp.ClientSession, knob: str, counter: str, says: str
) -> None:
    server.config.update({knob: 1.0})
    # The status line and headers arrive, promising a whole body; half of it comes.
    with pytest.raises(aiohttp.ClientPayloadError, match=says):
        async with session.post(f"{server.url}/chat/completions", json={"messages": USER_HI}) as r:
            assert r.status == 200 and (r.content_length or 0) > 100
            await r.read()
    server.config.update({knob: 0.0})
    status, _, _ = await chat(session, server, {"messages": USER_HI})
    assert status == 200  # the server itself is fine
    stats = dataclasses.asdict(server.stats())
    assert (stats["requests"], stats[counter], stats["ok"]) == (2, 1, 1)


async def test_wrong_schema_rate_answers_200_with_no_chat_completion(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    server.config.wrong_schema_rate = 1.0
    bodies = [(await chat(session, server, {"messages": USER_HI})) for _ in range(7)]

    assert {status for status, _, _ in bodies} == {200}
    assert not any(is_chat_completion(answer) for _, _, answer in bodies)
    assert len({orjson.dumps(answer) for _, _, answer in bodies}) == 7  # every shape in turn
    stats = server.stats()
    assert (stats.requests, stats.wrong_schema, stats.ok) == (7, 7, 0)


async def test_down_answers_503_to_everything(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    server.config.down = True
    ok_status, _, _ = await chat(session, server, {"messages": USER_HI})
    bad_status, _, _ = await chat(session, server, {"no": "messages"})
    server.config.down = False
    back_status, _, _ = await chat(session, server, {"messages": USER_HI})

    assert (ok_status, bad_status, back_status) == (503, 503, 200)
    assert server.stats().unavailable == 2


async def test_stop_refuses_connections_and_start_reuses_the_port() -> None:
    fake = FakeServer().start()
    try:
        port, url = fake.port, fake.url
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as client:
            fake.stop()
            fake.stop()  # idempotent
            with pytest.raises(aiohttp.ClientConnectorError):
                await client.get(f"{url}/models")
            fake.start()
            async with client.get(f"{url}/models") as response:
                assert response.status == 200
        assert fake.port == port
    finally:
        fake.stop()


async def test_by_key_counts_each_logical_request(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    first = {"model": "m", "messages": USER_HI, "seed": 3}
    second = {**first, "seed": 4}
    await chat(session, server, first)
    await chat(session, server, {**first, "temperature": 1.0, "max_tokens": 5})
    server.config.error_rate = 1.0
    await chat(session, server, second)

    assert server.stats().by_key == {request_key(first): 2, request_key(second): 1}
    server.reset_stats()
    assert server.stats() == FakeStats()


async def test_http_config_and_stats_endpoints(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    base = server.url.removesuffix("/v1")
    async with session.post(f"{base}/_fake/config", json={"error_rate": 1.0}) as response:
        assert response.status == 200
        assert (await response.json())["error_rate"] == 1.0
    status, _, _ = await chat(session, server, {"messages": USER_HI})
    assert status == 500
    assert server.config.error_rate == 1.0

    async with session.get(f"{base}/_fake/stats") as response:
        remote = await response.json()
    assert remote == {**server.stats().__dict__, "by_key": server.stats().by_key}
    assert remote["errors_500"] == 1

    for bad in ({"error_rate": 0.0, "no_such_knob": 1}, {"error_rate": 2}, {"seed": True}, [1]):
        async with session.post(f"{base}/_fake/config", json=bad) as response:
            assert response.status == 400
            assert "error" in await response.json()
    assert server.config.error_rate == 1.0  # a rejected update changes nothing

    async with session.post(f"{base}/_fake/reset_stats") as response:
        assert (await response.json())["requests"] == 0
    assert server.stats().requests == 0


async def test_scripts_answer_from_the_last_user_message(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    server.config.scripts = [(r"capital of (France|Italy)", "Paris or Rome"), (r"\d+", "a number")]
    messages = [
        {"role": "user", "content": "what is 2+2?"},
        {"role": "assistant", "content": "capital of France"},
        {"role": "user", "content": "The capital of Italy?"},
    ]
    _, _, scripted = await chat(session, server, {"messages": messages})
    _, _, second_rule = await chat(session, server, {"messages": messages[:1]})
    _, _, unscripted = await chat(session, server, {"messages": messages[1:2] + USER_HI})
    _, _, beats_schema = await chat(session, server, schema_body(ENUM, "count to 3"))

    assert content_of(scripted) == "Paris or Rome"
    assert content_of(second_rule) == "a number"
    assert content_of(unscripted).startswith("fake answer ")
    assert content_of(beats_schema) == "a number"


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[]", b'{"model": "m"}', b'{"messages": []}', b'{"messages": ["hi"]}'],
)
async def test_malformed_request_is_400(
    server: FakeServer, session: aiohttp.ClientSession, payload: bytes
) -> None:
    url = f"{server.url}/chat/completions"
    async with session.post(url, data=payload) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert server.stats().bad_requests == 1


async def test_models_and_health(server: FakeServer, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{server.url}/models") as response:
        models = await response.json()
    async with session.get(server.url.removesuffix("/v1") + "/health") as response:
        health = (response.status, await response.text())

    assert models == {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
    assert health == (200, "ok")


async def test_latency_delays_answers(server: FakeServer, session: aiohttp.ClientSession) -> None:
    server.config.latency_s = 0.15
    started = time.perf_counter()
    status, _, _ = await chat(session, server, {"messages": USER_HI})

    assert status == 200
    assert time.perf_counter() - started >= 0.15


async def test_hung_request_times_out_and_stop_does_not_wait_for_it() -> None:
    fake = FakeServer(FakeServerConfig(hang_rate=1.0, hang_s=3600)).start()
    try:
        timeout = aiohttp.ClientTimeout(total=0.3)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            with pytest.raises(TimeoutError):
                await chat(client, fake, {"messages": USER_HI})
            assert fake.stats().hung == 1
            fake.config.hang_rate = 0.0
            status, _, _ = await chat(client, fake, {"messages": USER_HI})
            assert status == 200
            fake.config.hang_rate = 1.0
            pending = asyncio.ensure_future(chat(client, fake, {"messages": USER_HI}))
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            fake.stop()
            assert time.perf_counter() - started < 2.0
            with pytest.raises((aiohttp.ClientError, TimeoutError)):
                await pending
    finally:
        fake.stop()


async def test_random_knobs_are_reproducible_from_the_seed(session: aiohttp.ClientSession) -> None:
    async def statuses(seed: int) -> list[int]:
        config = FakeServerConfig(error_rate=0.3, rate_429=0.3, seed=seed)
        with FakeServer(config) as fake:
            return [(await chat(session, fake, {"messages": USER_HI}))[0] for _ in range(30)]

    first, again, other = await statuses(7), await statuses(7), await statuses(8)

    assert first == again
    assert first != other
    assert {200, 429, 500} <= set(first)


def test_works_from_sync_code() -> None:
    with FakeServer(FakeServerConfig(model="sync-model")) as fake:
        request = urllib.request.Request(
            f"{fake.url}/chat/completions",
            data=orjson.dumps({"messages": USER_HI}),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = orjson.loads(response.read())
    assert answer["model"] == "sync-model"


def test_only_loopback_and_port_known_after_start() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeServer(host="0.0.0.0")
    with pytest.raises(RuntimeError):
        _ = FakeServer().url


def test_config_update_rejects_bad_values_atomically() -> None:
    config = FakeServerConfig()
    config.update({"latency_s": 1, "scripts": [["a+", "A"]], "down": True})
    assert (config.latency_s, config.scripts, config.down) == (1.0, [("a+", "A")], True)
    for bad in (
        {"latency_s": -1},
        {"model": ""},
        {"scripts": [["(", "x"]]},
        {"down": 1},
        {"hang_s": 5, "bogus": 1},
        {"rate_limit_rps": -1},
        {"rate_limit_rps": "2"},
        {"rate_limit_burst": 0},
        {"rate_limit_burst": 2.0},
        {"rate_limit_burst": True},
    ):
        with pytest.raises(ValueError):
            config.update(bad)
    assert config.hang_s == 3600.0
    config.update({"rate_limit_rps": 2, "rate_limit_burst": 3})
    assert (config.rate_limit_rps, config.rate_limit_burst) == (2.0, 3)


def test_module_entry_point_serves_until_sigterm() -> None:
    src = Path(fake_server_module.__file__).resolve().parents[2]
    python_path = [str(src), *filter(None, [os.environ.get("PYTHONPATH")])]
    # Buffered stdout, as under a benchmark harness: READY must be flushed by the server.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = os.pathsep.join(python_path)
    command = [sys.executable, "-m", "synthfactory.testing.fake_server", "--port", "0"]
    command += ["--latency-ms", "50", "--seed", "3", "--rate-limit-rps", "1000"]
    command += ["--rate-limit-burst", "7"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            assert process.stdout is not None
            readable, _, _ = select.select([process.stdout], [], [], 10)
            assert readable, "no READY line within 10 s"
            line = process.stdout.readline().strip()
            assert line.startswith("READY http://127.0.0.1:")
            url = line.removeprefix("READY ")
            request = urllib.request.Request(
                f"{url}/chat/completions",
                data=orjson.dumps({"messages": USER_HI}),
                headers={"Content-Type": "application/json"},
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200
                assert response.headers["x-ratelimit-limit-requests"] == "7"
            assert time.perf_counter() - started >= 0.05
            with urllib.request.urlopen(url.removesuffix("/v1") + "/_fake/stats") as response:
                assert orjson.loads(response.read())["ok"] == 1
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=5) == 0
            assert process.stderr is not None
            assert process.stderr.read() == ""
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)


def test_module_entry_point_rejects_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert fake_server_module.main(["--rate-limit-burst", "0"]) == 2
    assert "rate_limit_burst" in capsys.readouterr().err


def test_testing_package_exports_exactly_the_fakes() -> None:
    assert sorted(synthfactory.testing.__all__) == [
        "FakeSandbox",
        "FakeServer",
        "FakeServerConfig",
        "FakeStats",
    ]
    for name in synthfactory.testing.__all__:
        assert getattr(synthfactory.testing, name).__doc__
    with pytest.raises(AttributeError):
        _ = synthfactory.testing.NoSuchFake
