"""The fake server's aiohttp application: the request handlers, the fault knobs applied in
order, and the counters (:class:`FakeStats`).

The handlers run on one event loop, in a thread of the test process or in a process of
their own (see :mod:`synthfactory.testing.fake_server`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiohttp import web

from . import fake_faults
from .fake_answers import (
    FAKE_EMBEDDING_DIM,
    JSON_TYPE,
    BadRequestError,
    ChatRequest,
    chat_completion,
    chat_content,
    error_response,
    estimate_tokens,
    fake_embedding,
    parse_chat,
)
from .fake_knobs import FakeServerConfig
from .fake_limiter import TokenBucket, format_ms, format_seconds

# A stopped fake should look like an endpoint that went away, not one that drains politely:
# in-flight requests (including hung ones) get this long before they are cancelled.
_SHUTDOWN_GRACE_S: Final = 0.1
_INVALID: Final = "invalid_request_error"
_OK_HEADERS: Final = {"x-ratelimit-remaining-requests": "1000"}


def _json(value: Any) -> web.Response:
    return web.Response(body=orjson.dumps(value), content_type=JSON_TYPE)


@dataclass(frozen=True)
class FakeStats:
    """A snapshot of what a :class:`~synthfactory.testing.FakeServer` has received since start
    or the last reset.

    ``requests`` counts every chat-completions request, however it was answered; the other
    counters split it by outcome (``ok`` counts whole, well-formed chat completions only).
    ``by_key`` counts requests per :func:`request_key`, so a test can check that one logical
    request was sent exactly once.  Token counts cover successful answers only.
    """

    requests: int = 0
    """Chat-completions requests received, including those answered with an error."""
    ok: int = 0
    """Requests answered 200 with a whole chat completion."""
    errors_500: int = 0
    """Requests answered 500 by the ``error_rate`` knob."""
    rate_limited: int = 0
    """Requests answered 429 by the rate limiter or the ``rate_429`` knob."""
    hung: int = 0
    """Requests that hung (whatever happened to them afterwards)."""
    by_key: dict[str, int] = field(default_factory=dict)
    """Requests per request key (only well-formed requests have a key)."""
    prompt_tokens: int = 0
    """Estimated prompt tokens of successful answers."""
    completion_tokens: int = 0
    """Estimated completion tokens of successful answers."""
    unavailable: int = 0
    """Requests answered 503 because the ``down`` knob was set."""
    bad_requests: int = 0
    """Requests answered 400 because the body was malformed."""
    embedded_texts: int = 0
    """Texts embedded by ``POST /v1/embeddings`` (answered 200)."""
    truncated: int = 0
    """Requests answered with half a body by the ``truncated_body_rate`` knob."""
    resets: int = 0
    """Requests whose connection was reset mid-answer by the ``reset_rate`` knob."""
    wrong_schema: int = 0
    """Requests answered 200 with a body that is no chat completion (``wrong_schema_rate``)."""


class FakeEndpoint:
    """The request handlers and counters behind one fake server (in a thread or a process).

    Handlers run on one event loop; the counters are also read and reset from other
    threads, hence the lock.
    """

    def __init__(self, config: FakeServerConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._rng_seed = config.seed
        self._rng = random.Random(config.seed)
        self._answers = 0
        self._counts: dict[str, int] = {}
        self._by_key: dict[str, int] = {}
        self._bucket = TokenBucket()
        self.reset_stats()

    def stats(self) -> FakeStats:
        with self._lock:
            return FakeStats(by_key=dict(self._by_key), **self._counts)

    def reset_stats(self) -> None:
        with self._lock:
            self._counts = {f.name: 0 for f in dataclasses.fields(FakeStats) if f.name != "by_key"}
            self._by_key = {}

    def _count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def _roll(self, rate: float) -> bool:
        # The random sequence is restarted when the seed knob changes, so it stays reproducible.
        seed = self.config.seed
        if seed != self._rng_seed:
            self._rng_seed = seed
            self._rng = random.Random(seed)
        return rate > 0.0 and self._rng.random() < rate

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/_fake/stats", self._get_stats)
        app.router.add_post("/_fake/config", self._post_config)
        app.router.add_post("/_fake/reset_stats", self._post_reset_stats)
        return app

    def make_runner(self) -> web.AppRunner:
        # No access log: logging every request would cost more than answering it.
        return web.AppRunner(
            self.make_app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=_SHUTDOWN_GRACE_S,
            # A hung request whose client gave up should not sleep on until stop().
            handler_cancellation=True,
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            chat: ChatRequest | None = parse_chat(raw)
            problem = ""
        except BadRequestError as exc:
            chat, problem = None, str(exc)
        with self._lock:
            self._counts["requests"] += 1
            if chat is not None:
                self._by_key[chat.key] = self._by_key.get(chat.key, 0) + 1
        if self.config.down:
            self._count("unavailable")
            return error_response(503, "the fake endpoint is down", "service_unavailable")
        limited = self._rate_limit(self.config)
        if limited is not None:
            return limited
        if chat is None:
            self._count("bad_requests")
            return error_response(400, problem, _INVALID)
        if self._roll(self.config.hang_rate):
            self._count("hung")
            await asyncio.sleep(self.config.hang_s)
        config = self.config
        if self._roll(config.rate_429):
            self._count("rate_limited")
            retry_after = {"Retry-After": format_seconds(config.retry_after_s)}
            return error_response(
                429, "rate limited by the fake", "rate_limit_exceeded", retry_after
            )
        if self._roll(config.error_rate):
            self._count("errors_500")
            return error_response(500, "injected server error", "server_error")
        delay = config.latency_s
        if config.latency_jitter_s > 0:
            delay += self._rng.uniform(0.0, config.latency_jitter_s)
        if delay > 0:
            await asyncio.sleep(delay)
        return await self._answer(request, chat, config)

    def _rate_limit(self, config: FakeServerConfig) -> web.Response | None:
        """Take a token from the rate limiter; return the 429 answer if there was none."""
        rps, burst = config.rate_limit_rps, config.rate_limit_burst
        if rps <= 0:
            return None
        with self._lock:
            wait_ms = self._bucket.take(rps, burst)
            if wait_ms:
                self._counts["rate_limited"] += 1
        if not wait_ms:
            return None
        retry_after = {"Retry-After": format_ms(wait_ms), "retry-after-ms": str(wait_ms)}
        message = f"rate limit of {rps:g} requests/s (burst {burst}) reached by the fake"
        return error_response(429, message, "rate_limit_exceeded", retry_after)

    async def _answer(
        self, request: web.Request, chat: ChatRequest, config: FakeServerConfig
    ) -> web.StreamResponse:
        """The answer to a request that got through every error knob: a chat completion,
        unless a broken-answer knob spoils it (then it counts as that, not as ``ok``)."""
        truncated = self._roll(config.truncated_body_rate)
        reset = not truncated and self._roll(config.reset_rate)
        wrong = not (truncated or reset) and self._roll(config.wrong_schema_rate)
        content = chat_content(chat, config.scripts, lambda: self._roll(config.invalid_json_rate))
        with self._lock:
            self._answers += 1
            number = self._answers
        payload = chat_completion(chat, content, model=config.model, number=number)
        if truncated:
            self._count("truncated")
            return await fake_faults.truncated(request, orjson.dumps(payload))
        if reset:
            self._count("resets")
            return await fake_faults.reset(request, orjson.dumps(payload))
        if wrong:
            self._count("wrong_schema")
            return fake_faults.wrong_schema(number)
        usage = payload["usage"]
        with self._lock:
            self._counts["ok"] += 1
            self._counts["prompt_tokens"] += usage["prompt_tokens"]
            self._counts["completion_tokens"] += usage["completion_tokens"]
            rps, burst = config.rate_limit_rps, config.rate_limit_burst
            headers = self._bucket.headers(rps, burst) if rps > 0 else _OK_HEADERS
        return web.Response(body=orjson.dumps(payload), content_type=JSON_TYPE, headers=headers)

    async def _embeddings(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return error_response(400, f"request body is not valid JSON: {exc}", _INVALID)
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return error_response(400, "'input' must be a string or an array of strings", _INVALID)
        dim = body.get("dimensions", FAKE_EMBEDDING_DIM)
        if type(dim) is not int or dim < 1:
            return error_response(400, "'dimensions' must be a positive integer", _INVALID)
        config = self.config
        if config.down:
            return error_response(503, "the fake endpoint is down", "service_unavailable")
        limited = self._rate_limit(config)
        if limited is not None:
            return limited
        if self._roll(config.error_rate):
            return error_response(500, "injected server error", "server_error")
        if config.latency_s > 0:
            await asyncio.sleep(config.latency_s)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_embedding(text, dim)}
            for i, text in enumerate(texts)
        ]
        self._count("embedded_texts", len(texts))
        tokens = sum(estimate_tokens(text) for text in texts)
        payload = {
            "object": "list",
            "data": data,
            "model": body.get("model") or config.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return _json(payload)

    async def _models(self, request: web.Request) -> web.Response:
        payload = {"object": "list", "data": [{"id": self.config.model, "object": "model"}]}
        return _json(payload)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _get_stats(self, request: web.Request) -> web.Response:
        return _json(dataclasses.asdict(self.stats()))

    async def _post_config(self, request: web.Request) -> web.Response:
        try:
            changes = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return error_response(400, f"body is not valid JSON: {exc}", _INVALID)
        if not isinstance(changes, dict):
            return error_response(400, "body must be a JSON object of knobs", _INVALID)
        try:
            self.config.update(changes)
        except ValueError as exc:
            return error_response(400, str(exc), _INVALID)
        return _json(dataclasses.asdict(self.config))

    async def _post_reset_stats(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return _json(dataclasses.asdict(self.stats()))


__all__ = ["FakeEndpoint", "FakeStats"]
