"""The fake server's rate limiter: bursts, 429 with the wait, and clients that honour it."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import aiohttp

from synthfactory.testing import FakeServer, FakeServerConfig
from tests.integration.fake_support import USER_HI, chat

LIMITED = FakeServerConfig(rate_limit_rps=20, rate_limit_burst=5)


async def test_rate_limiter_lets_a_burst_through_and_answers_429_with_the_wait(
    session: aiohttp.ClientSession,
) -> None:
    with FakeServer(dataclasses.replace(LIMITED)) as fake:
        # Open the connections first, so that the 40 requests arrive close together.
        health = fake.url.removesuffix("/v1") + "/health"

        async def warm() -> None:
            async with session.get(health) as response:
                await response.read()

        await asyncio.gather(*(warm() for _ in range(40)))
        answers = await asyncio.gather(
            *(chat(session, fake, {"messages": USER_HI}) for _ in range(40))
        )
        stats = fake.stats()

    ok = [answer for answer in answers if answer[0] == 200]
    limited = [answer for answer in answers if answer[0] == 429]
    assert 5 <= len(ok) <= 6  # the burst, plus at most one token refilled meanwhile
    assert len(ok) + len(limited) == 40
    for _, headers, body in limited:
        retry_after = float(headers["Retry-After"])
        assert 0 < retry_after <= 0.05
        assert headers["Retry-After"] == f"{retry_after:.3f}".rstrip("0").rstrip(".")
        assert int(headers["retry-after-ms"]) == round(retry_after * 1000)
        assert body["error"]["type"] == "rate_limit_exceeded"
    assert (stats.requests, stats.ok, stats.rate_limited) == (40, len(ok), len(limited))


async def send_all(server: FakeServer, *, patient: bool, count: int = 40) -> int:
    """Get ``count`` concurrent requests answered 200, retrying each 429 either after its
    ``Retry-After`` or at once; return how many requests were sent."""
    sent = 0

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while True:
            sent += 1
            status, headers, _ = await chat(session, server, {"messages": USER_HI})
            if status == 200:
                return
            assert status == 429
            if patient:
                await asyncio.sleep(float(headers["Retry-After"]))

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        await asyncio.wait_for(asyncio.gather(*(one(session) for _ in range(count))), 20)
    assert server.stats().ok == count
    return sent


async def test_client_honouring_retry_after_sends_far_fewer_requests() -> None:
    # A slow limit (5/s, a burst of 1) makes both clients wait about 2 s for their 10
    # answers, so the impatient one's count grows with that time, not with how fast this
    # machine happens to be: at 20/s it finished so soon on a loaded machine that it sent
    # too few retries to tell the two apart.
    slow = FakeServerConfig(rate_limit_rps=5, rate_limit_burst=1)
    with FakeServer(dataclasses.replace(slow)) as fake:
        patient = await send_all(fake, patient=True, count=10)
    with FakeServer(dataclasses.replace(slow)) as fake:
        impatient = await send_all(fake, patient=False, count=10)

    assert patient < impatient / 2, (patient, impatient)


async def test_rate_limiter_headers_on_answers(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    base = server.url.removesuffix("/v1")
    knobs = {"rate_limit_rps": 2, "rate_limit_burst": 3}
    async with session.post(f"{base}/_fake/config", json=knobs) as response:
        assert response.status == 200
    answers = [await chat(session, server, {"messages": USER_HI}) for _ in range(4)]

    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    remaining = [headers["x-ratelimit-remaining-requests"] for _, headers, _ in answers[:3]]
    assert remaining == ["2", "1", "0"]
    for _, headers, _ in answers[:3]:
        assert headers["x-ratelimit-limit-requests"] == "3"
    resets = [headers["x-ratelimit-reset-requests"] for _, headers, _ in answers[:3]]
    assert all(re.fullmatch(r"\d+(\.\d{1,3})?s", reset) for reset in resets), resets
    # Time until full: about 1, 2 and 3 tokens at 2 per second.
    for tokens, reset in enumerate(resets, start=1):
        assert tokens / 2 - 0.2 < float(reset.removesuffix("s")) <= tokens / 2
    assert 0 < float(answers[3][1]["Retry-After"]) <= 0.5
    server.config.rate_limit_rps = 0.0
    status, headers, _ = await chat(session, server, {"messages": USER_HI})
    assert (status, headers["x-ratelimit-remaining-requests"]) == (200, "1000")
    assert "x-ratelimit-limit-requests" not in headers
