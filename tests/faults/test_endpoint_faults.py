"""An endpoint that misbehaves on a share of its requests: every item is retried or failed
with its reason kept, the others go on, and the run ends in a time set by the timeouts.

Injected (each on a quarter of the chat requests of a ``hello`` run of N items, through the
fake server's knobs): a request that is read and never answered (``hang_rate``); a 200 with
half a body (``truncated_body_rate``: ``Content-Length`` promises more than is sent); a
connection reset mid-answer (``reset_rate``); a 200 whose JSON is no chat completion
(``wrong_schema_rate``); a 429 with ``Retry-After: 3600`` (``rate_429``).
Must hold afterwards: exactly N items admitted and stored + failed == N (none rejected, none
lost); every failed item's error names what happened; the fault was met (its counter) and
retried (more requests than answers); the run took less than the worst case the endpoint's
timeout, retries and backoff allow, and far less than the hour the server asked for.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from synthfactory import EndpointConfig, RunConfig, run_recipe
from synthfactory.errors import TransientModelError
from synthfactory.ledger import Ledger
from synthfactory.models.client import ChatRequest
from synthfactory.models.openai_http import OpenAIChatClient, worst_call_s
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace

N = 40
RATE = 0.25
ENDPOINT: dict[str, Any] = {
    "timeout_s": 1.0,
    "max_retries": 1,
    "max_retry_after_s": 2.0,
}
#: Start-up (the verification workers, the dataset) and the final commit, on a busy machine.
START_AND_COMMIT_S = 15.0

# (knob, FakeStats counter, words every failed item's error must contain)
FAULTS = [
    pytest.param("hang_rate", "hung", "timed out after 1s", id="never-answers"),
    pytest.param("truncated_body_rate", "truncated", "broke off", id="half-written-body"),
    pytest.param("reset_rate", "resets", "broke off", id="reset-mid-answer"),
    pytest.param("wrong_schema_rate", "wrong_schema", "not a chat completion", id="wrong-schema"),
    pytest.param("rate_429", "rate_limited", "Retry-After of 3600s", id="retry-after-an-hour"),
]


@pytest.mark.parametrize(("knob", "counter", "reason"), FAULTS)
def test_a_faulty_endpoint_fails_or_retries_each_item_and_the_run_ends_in_bounded_time(
    tmp_path: Path, knob: str, counter: str, reason: str
) -> None:
    ws = tmp_path / "ws"
    faults = FakeServerConfig(seed=11, retry_after_s=3600.0, hang_s=3600.0)
    faults.update({knob: RATE})
    with FakeServer(faults) as server:
        endpoint = EndpointConfig(role="generator", url=server.url, model="fake-model", **ENDPOINT)
        bound = START_AND_COMMIT_S + 2 * worst_call_s(endpoint)
        config = RunConfig(target=N, max_items=N, seed=5, commit_rows=N)
        started = time.monotonic()
        summary = asyncio.run(
            asyncio.wait_for(
                run_recipe("hello", workspace=ws, config=config, endpoints=[endpoint]),
                timeout=bound * 2,
            )
        )
        took = time.monotonic() - started
        stats = server.stats()

    assert summary.stored + summary.failed == N, summary
    assert summary.rejected == 0
    assert summary.status == ("finished" if summary.failed == 0 else "exhausted"), summary
    assert took < bound, f"{took:.1f}s, bound {bound:.1f}s"
    injected = getattr(stats, counter)
    assert injected >= 3, f"only {injected} {counter}: the test shows nothing"
    assert stats.requests > stats.ok  # the faults were retried, not taken as answers
    assert stats.ok == summary.stored  # a broken answer never became a row

    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        failed = ledger.items(summary.run_id, ["failed"])
        counts = ledger.counts(summary.run_id)
    finally:
        ledger.close()
    assert len(failed) == summary.failed
    assert counts["stored"] == summary.stored and counts["active"] == 0
    for item in failed:
        assert item.error is not None and reason in item.error, item.error
    print(  # the README's measured column
        f"{knob}: {stats.requests} requests, {injected} {counter}, {stats.ok} answered; "
        f"stored {summary.stored} + failed {summary.failed} = {N}; {took:.1f}s (bound {bound:.0f}s)"
    )


async def test_a_request_whose_answer_always_breaks_off_fails_after_its_retries() -> None:
    """A server that resets every answer to one request (one that crashes it, say) while
    the endpoint stays up: the request used to be retried for ever, as if the server could
    not be reached, because only an unreachable server was told apart from a broken answer.
    Injected: every answer reset mid-body. Must hold: the call fails after max_retries + 1
    tries, naming the reset; the server saw exactly that many requests."""
    with FakeServer(FakeServerConfig(reset_rate=1.0)) as server:
        endpoint = EndpointConfig(role="generator", url=server.url, model="fake-model", **ENDPOINT)
        request = ChatRequest(model="fake-model", messages=({"role": "user", "content": "hi"},))
        async with aiohttp.ClientSession() as session:
            client = OpenAIChatClient(endpoint, session)
            with pytest.raises(TransientModelError, match=r"broke off.*gave up after 2 tries"):
                await asyncio.wait_for(client.complete(request), timeout=worst_call_s(endpoint))
        assert server.stats().resets == server.stats().requests == 2
