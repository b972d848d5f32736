"""A fake OpenAI-compatible chat-completions server for tests and benchmarks.

The server speaks just enough of the OpenAI HTTP API (``POST /v1/chat/completions``,
``POST /v1/embeddings``, ``GET /v1/models``) for a client to be exercised end to end over
real loopback HTTP, with knobs for the failures a real endpoint produces: latency, HTTP
500, HTTP 429 with ``Retry-After``, hung requests, broken JSON and a whole endpoint going
down.  JSON-mode answers come from :mod:`synthfactory.testing.fake_json`.

Besides random 429s (``rate_429``) there is a real rate limiter: a token bucket of
``rate_limit_burst`` tokens, refilled at ``rate_limit_rps`` per second and starting full.  A
chat request that finds no token is answered 429 with ``Retry-After`` (seconds, up to 3
decimals) and ``retry-after-ms``, the wait for the next token; answers then carry
``x-ratelimit-{limit,remaining,reset}-requests`` (the burst, whole tokens left, time until
the bucket is full such as ``"0.25s"``).

Use it in process (it runs in its own thread with its own event loop, so it works from sync
tests and from async tests running on any other loop)::

    with FakeServer(FakeServerConfig(latency_s=0.01)) as server:
        call_my_client(base_url=server.url)
        server.config.rate_429 = 1.0      # knobs change live
        assert server.stats().rate_limited == 0

or as a separate process, so that it does not share the client's CPU::

    python -m synthfactory.testing.fake_server --port 0 --latency-ms 200 --rate-limit-rps 50
    # prints "READY http://127.0.0.1:PORT/v1" once listening; serves until SIGTERM/SIGINT

A server in another process is driven over HTTP: ``GET /_fake/stats`` returns
:class:`FakeStats` as JSON, ``POST /_fake/config`` updates knobs (see
:meth:`FakeServerConfig.update`) and ``POST /_fake/reset_stats`` zeroes the counters.

Embeddings (see :func:`fake_embedding`) are a hashed set of words, L2-normalized: equal
texts get equal vectors, texts sharing most words get close ones, and nothing else is
modelled (paraphrases with other words are far apart). They pass through the ``down``, rate
limiter, 500 and latency knobs like chat requests, but are not counted in :class:`FakeStats`.

Answers are deterministic: the content depends only on the *request key* (see
:func:`request_key`) and on the scripts, and the random knobs draw from
``random.Random(config.seed)``, so a run with the same requests in the same order sees the
same faults (the rate limiter follows the clock instead).  The server only ever listens on
a loopback address.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import ipaddress
import math
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiohttp import web

from .fake_json import break_json, fake_json_for_schema

__all__ = ["FakeServer", "FakeServerConfig", "FakeStats", "fake_embedding", "main", "request_key"]

# A stopped fake should look like an endpoint that went away, not one that drains politely:
# in-flight requests (including hung ones) get this long before they are cancelled.
_SHUTDOWN_GRACE_S: Final = 0.1
_START_TIMEOUT_S: Final = 10.0
# Benchmarks open many connections at once; the asyncio default backlog (100) drops some.
_BACKLOG: Final = 1024
_KEY_FIELDS: Final = ("messages", "seed", "model", "response_format")
_OK_HEADERS: Final = {"x-ratelimit-remaining-requests": "1000"}
_JSON: Final = "application/json"
#: Vector length of fake embeddings unless the request asks for ``dimensions``.
FAKE_EMBEDDING_DIM: Final = 256
_WORD: Final = re.compile(r"\w+")


@dataclass
class FakeServerConfig:
    """The knobs of a :class:`FakeServer`; mutate an instance to change them while it runs.

    Rates are fractions in ``[0, 1]`` drawn per request from ``random.Random(seed)``; the
    knobs are applied in this order: ``down`` (503), the rate limiter (429), hang, random
    429, 500, latency, answer.
    """

    latency_s: float = 0.0
    """Delay before every answer, in seconds."""
    latency_jitter_s: float = 0.0
    """Extra delay drawn uniformly from ``[0, latency_jitter_s]``."""
    error_rate: float = 0.0
    """Fraction of requests answered HTTP 500."""
    rate_429: float = 0.0
    """Fraction of requests answered HTTP 429 with a ``Retry-After`` header."""
    retry_after_s: float = 0.05
    """Value sent in ``Retry-After``, in seconds (fractions allowed, e.g. ``"0.05"``)."""
    hang_rate: float = 0.0
    """Fraction of requests that sleep ``hang_s`` before the other knobs apply."""
    hang_s: float = 3600.0
    """How long a hung request sleeps."""
    model: str = "fake-model"
    """Model name reported in answers and by ``GET /v1/models``."""
    seed: int = 0
    """Seed of the random knobs; changing it live restarts the random sequence."""
    invalid_json_rate: float = 0.0
    """Fraction of JSON-mode requests answered with truncated, unparseable JSON text."""
    scripts: list[tuple[str, str]] = field(default_factory=list)
    """``(regex, text)`` pairs: the first regex found (``re.search``) in the last user
    message makes ``text`` the answer verbatim, before any JSON-mode handling."""
    down: bool = False
    """Answer 503 to every chat request; use :meth:`FakeServer.stop` for refused connections."""
    rate_limit_rps: float = 0.0
    """Refill rate (tokens per second) of the token-bucket rate limiter (see the module
    docstring); ``0`` turns it off.  Changing either limiter knob refills the bucket."""
    rate_limit_burst: int = 1
    """Capacity of the rate limiter's token bucket, which starts full."""

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``changes`` (field name to new value), all or nothing.

        This is what ``POST /_fake/config`` calls.  Raises :class:`ValueError` naming the
        problem if a name is not a knob, a value has the wrong type, a rate is outside
        ``[0, 1]``, a duration or ``rate_limit_rps`` is negative, ``rate_limit_burst`` is
        below 1 or a script regex does not compile.
        """
        checked = {name: _check_knob(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)


_RATE_KNOBS: Final = frozenset({"error_rate", "rate_429", "hang_rate", "invalid_json_rate"})
_SECONDS_KNOBS: Final = frozenset({"latency_s", "latency_jitter_s", "retry_after_s", "hang_s"})
_NON_NEGATIVE_KNOBS: Final = _SECONDS_KNOBS | {"rate_limit_rps"}
_KNOB_NAMES: Final = frozenset(f.name for f in dataclasses.fields(FakeServerConfig))


def _check_knob(name: str, value: Any) -> Any:
    """Return ``value`` converted for knob ``name``, or raise ``ValueError``."""
    if name not in _KNOB_NAMES:
        raise ValueError(f"unknown knob {name!r}; known knobs: {', '.join(sorted(_KNOB_NAMES))}")
    if name in _RATE_KNOBS or name in _NON_NEGATIVE_KNOBS:
        # bool is an int subclass, but `"error_rate": true` is a caller's mistake.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0 or (name in _RATE_KNOBS and value > 1):
            limit = "in [0, 1]" if name in _RATE_KNOBS else ">= 0"
            raise ValueError(f"{name} must be {limit}, got {value!r}")
        return float(value)
    if name == "scripts":
        return _check_scripts(value)
    if name == "rate_limit_burst":
        if type(value) is not int or value < 1:
            raise ValueError(f"rate_limit_burst must be an int >= 1, got {value!r}")
        return value
    expected = {"seed": int, "model": str, "down": bool}[name]
    # An exact type check: it keeps `true` out of `seed`, which isinstance would let in.
    if type(value) is not expected or value == "":
        raise ValueError(f"{name} must be a non-empty {expected.__name__}, got {value!r}")
    return value


def _check_scripts(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"scripts must be a list of [regex, text] pairs, got {value!r}")
    scripts: list[tuple[str, str]] = []
    for pair in value:
        if not (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(part, str) for part in pair)
        ):
            raise ValueError(f"each script must be a [regex, text] pair of strings, got {pair!r}")
        try:
            re.compile(pair[0])
        except re.error as exc:
            raise ValueError(f"script regex {pair[0]!r} does not compile: {exc}") from exc
        scripts.append((pair[0], pair[1]))
    return scripts


@dataclass(frozen=True)
class FakeStats:
    """A snapshot of what a :class:`FakeServer` has received since start or the last reset.

    ``requests`` counts every chat-completions request, however it was answered; the other
    counters split it by outcome.  ``by_key`` counts requests per :func:`request_key`, so a
    test can check that one logical request was sent exactly once.  Token counts cover
    successful answers only.
    """

    requests: int = 0
    """Chat-completions requests received, including those answered with an error."""
    ok: int = 0
    """Requests answered 200."""
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


def request_key(body: Mapping[str, Any]) -> str:
    """Return the request key of a chat-completions request body.

    The key is the SHA-256 hex digest of the orjson dump, with sorted keys, of the body
    restricted to the fields present among ``messages``, ``seed``, ``model`` and
    ``response_format``; other fields (temperature, max_tokens, ...) do not change it.
    """
    subset = {name: body[name] for name in _KEY_FIELDS if name in body}
    return hashlib.sha256(orjson.dumps(subset, option=orjson.OPT_SORT_KEYS)).hexdigest()


def fake_embedding(text: str, dim: int = FAKE_EMBEDDING_DIM) -> list[float]:
    """The fake server's embedding of ``text``: each distinct lower-cased word adds +-1 to a
    bucket chosen by its BLAKE2b hash; the sum is L2-normalized (an empty text gives bucket
    0). Distinct words, not counts, so that repeated function words do not make every text
    look alike."""
    vector = [0.0] * dim
    for word in sorted(set(_WORD.findall(text.lower()))):
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        vector[(digest >> 1) % dim] += 1.0 if digest & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0.0:
        vector[0], norm = 1.0, 1.0
    return [value / norm for value in vector]


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _text_of(content: Any) -> str:
    """The text of a message's ``content``: a string, or a list of ``{"text": ...}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _format_ms(milliseconds: int) -> str:
    """Format whole milliseconds as seconds with up to 3 decimals: 50 -> "0.05", 2000 -> "2"."""
    return f"{milliseconds / 1000:.3f}".rstrip("0").rstrip(".")


def _format_seconds(seconds: float) -> str:
    """Format a delay for ``Retry-After`` without exponent notation: 0.05 -> "0.05", 2.0 -> "2"."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".") or "0"


class _BadRequestError(ValueError):
    """A chat request the fake refuses with 400; the message is shown to the client."""


@dataclass(frozen=True)
class _ChatRequest:
    """A parsed, well-formed chat-completions request."""

    body: dict[str, Any]
    key: str
    json_mode: bool
    schema: dict[str, Any] | None


def _parse_chat(raw: bytes) -> _ChatRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _BadRequestError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _BadRequestError("request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRequestError("'messages' must be a non-empty array")
    if not all(isinstance(message, dict) for message in messages):
        raise _BadRequestError("every element of 'messages' must be an object")
    if body.get("stream") is True:
        raise _BadRequestError("the fake server does not support stream=true")
    json_mode, schema = _parse_response_format(body.get("response_format"))
    return _ChatRequest(body=body, key=request_key(body), json_mode=json_mode, schema=schema)


def _parse_response_format(response_format: Any) -> tuple[bool, dict[str, Any] | None]:
    """Return (is JSON mode, schema or None) for a ``response_format`` value."""
    if response_format is None:
        return False, None
    if not isinstance(response_format, dict):
        raise _BadRequestError("'response_format' must be an object")
    kind = response_format.get("type")
    if kind == "text":
        return False, None
    if kind == "json_object":
        schema = response_format.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise _BadRequestError("'response_format.schema' must be an object")
        return True, schema
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise _BadRequestError("'response_format.json_schema.schema' must be an object")
        return True, schema
    raise _BadRequestError(f"unsupported response_format type {kind!r}")


def _error(
    status: int, message: str, kind: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An OpenAI-style error response."""
    payload = {"error": {"message": message, "type": kind, "param": None, "code": status}}
    return web.Response(
        status=status, body=orjson.dumps(payload), content_type=_JSON, headers=headers
    )


class _TokenBucket:
    """The rate limiter's token bucket, on ``time.monotonic``; callers hold the endpoint lock.

    The knobs are passed on every call, so a live change takes effect at once: new values
    start over with a full bucket.
    """

    # Float slack, so that a client that waited exactly Retry-After finds its token.
    _SLACK: Final = 1e-9

    def __init__(self) -> None:
        self._rps = 0.0
        self._burst = 0
        self._tokens = 0.0
        self._stamp = 0.0

    def _refill(self, rps: float, burst: int) -> None:
        now = time.monotonic()
        if rps != self._rps or burst != self._burst:
            self._rps, self._burst, self._tokens = rps, burst, float(burst)
        else:
            self._tokens = min(float(burst), self._tokens + (now - self._stamp) * rps)
        self._stamp = now

    def take(self, rps: float, burst: int) -> int:
        """Take a token and return 0, or return the milliseconds until the next token (>= 1)."""
        self._refill(rps, burst)
        if self._tokens >= 1.0 - self._SLACK:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0
        return max(1, math.ceil((1.0 - self._tokens) / rps * 1000))

    def headers(self, rps: float, burst: int) -> dict[str, str]:
        """The ``x-ratelimit-*-requests`` headers for the bucket as it is now."""
        self._refill(rps, burst)
        to_full_ms = math.ceil(max(0.0, burst - self._tokens) / rps * 1000)
        return {
            "x-ratelimit-limit-requests": str(burst),
            "x-ratelimit-remaining-requests": str(math.floor(self._tokens + self._SLACK)),
            "x-ratelimit-reset-requests": f"{_format_ms(to_full_ms)}s",
        }


class _FakeEndpoint:
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
        self._bucket = _TokenBucket()
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

    async def _chat(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            chat: _ChatRequest | None = _parse_chat(raw)
            problem = ""
        except _BadRequestError as exc:
            chat, problem = None, str(exc)
        with self._lock:
            self._counts["requests"] += 1
            if chat is not None:
                self._by_key[chat.key] = self._by_key.get(chat.key, 0) + 1
        if self.config.down:
            self._count("unavailable")
            return _error(503, "the fake endpoint is down", "service_unavailable")
        limited = self._rate_limit(self.config)
        if limited is not None:
            return limited
        if chat is None:
            self._count("bad_requests")
            return _error(400, problem, "invalid_request_error")
        if self._roll(self.config.hang_rate):
            self._count("hung")
            await asyncio.sleep(self.config.hang_s)
        config = self.config
        if self._roll(config.rate_429):
            self._count("rate_limited")
            retry_after = {"Retry-After": _format_seconds(config.retry_after_s)}
            return _error(429, "rate limited by the fake", "rate_limit_exceeded", retry_after)
        if self._roll(config.error_rate):
            self._count("errors_500")
            return _error(500, "injected server error", "server_error")
        delay = config.latency_s
        if config.latency_jitter_s > 0:
            delay += self._rng.uniform(0.0, config.latency_jitter_s)
        if delay > 0:
            await asyncio.sleep(delay)
        return self._answer(chat)

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
        retry_after = {"Retry-After": _format_ms(wait_ms), "retry-after-ms": str(wait_ms)}
        message = f"rate limit of {rps:g} requests/s (burst {burst}) reached by the fake"
        return _error(429, message, "rate_limit_exceeded", retry_after)

    def _answer(self, chat: _ChatRequest) -> web.Response:
        config = self.config
        messages = chat.body["messages"]
        content = self._content(chat, config, messages)
        prompt_tokens = _estimate_tokens("".join(_text_of(m.get("content")) for m in messages))
        completion_tokens = _estimate_tokens(content)
        with self._lock:
            self._counts["ok"] += 1
            self._counts["prompt_tokens"] += prompt_tokens
            self._counts["completion_tokens"] += completion_tokens
            self._answers += 1
            number = self._answers
            rps, burst = config.rate_limit_rps, config.rate_limit_burst
            headers = self._bucket.headers(rps, burst) if rps > 0 else _OK_HEADERS
        payload = {
            "id": f"chatcmpl-fake{number:08x}{chat.key[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": config.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return web.Response(body=orjson.dumps(payload), content_type=_JSON, headers=headers)

    def _content(
        self, chat: _ChatRequest, config: FakeServerConfig, messages: list[dict[str, Any]]
    ) -> str:
        if config.scripts:
            last_user = next(
                (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
                "",
            )
            for pattern, text in config.scripts:
                if re.search(pattern, last_user):
                    return text
        plain = f"fake answer {chat.key[:12]}"
        if not chat.json_mode:
            return plain
        if chat.schema is None:
            document: Any = {"answer": plain}
        else:
            document = fake_json_for_schema(chat.schema, chat.key)
        text = orjson.dumps(document).decode()
        return break_json(text) if self._roll(config.invalid_json_rate) else text

    async def _embeddings(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return _error(400, f"request body is not valid JSON: {exc}", "invalid_request_error")
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return _error(
                400, "'input' must be a string or an array of strings", "invalid_request_error"
            )
        dim = body.get("dimensions", FAKE_EMBEDDING_DIM)
        if type(dim) is not int or dim < 1:
            return _error(400, "'dimensions' must be a positive integer", "invalid_request_error")
        config = self.config
        if config.down:
            return _error(503, "the fake endpoint is down", "service_unavailable")
        limited = self._rate_limit(config)
        if limited is not None:
            return limited
        if self._roll(config.error_rate):
            return _error(500, "injected server error", "server_error")
        if config.latency_s > 0:
            await asyncio.sleep(config.latency_s)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_embedding(text, dim)}
            for i, text in enumerate(texts)
        ]
        self._count("embedded_texts", len(texts))
        tokens = sum(_estimate_tokens(text) for text in texts)
        payload = {
            "object": "list",
            "data": data,
            "model": body.get("model") or config.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return web.Response(body=orjson.dumps(payload), content_type=_JSON)

    async def _models(self, request: web.Request) -> web.Response:
        payload = {"object": "list", "data": [{"id": self.config.model, "object": "model"}]}
        return web.Response(body=orjson.dumps(payload), content_type=_JSON)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(dataclasses.asdict(self.stats())), content_type=_JSON)

    async def _post_config(self, request: web.Request) -> web.Response:
        try:
            changes = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return _error(400, f"body is not valid JSON: {exc}", "invalid_request_error")
        if not isinstance(changes, dict):
            return _error(400, "body must be a JSON object of knobs", "invalid_request_error")
        try:
            self.config.update(changes)
        except ValueError as exc:
            return _error(400, str(exc), "invalid_request_error")
        return web.Response(body=orjson.dumps(dataclasses.asdict(self.config)), content_type=_JSON)

    async def _post_reset_stats(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return web.Response(body=orjson.dumps(dataclasses.asdict(self.stats())), content_type=_JSON)


def _check_loopback(host: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the fake server listens on a loopback IP address only, not {host!r}")


async def _start_site(runner: web.AppRunner, host: str, port: int) -> int:
    """Set up ``runner``, listen on ``host:port`` and return the bound port."""
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=_BACKLOG)
    await site.start()
    return site.port


class FakeServer:
    """A fake OpenAI-compatible server on loopback, run in its own thread and event loop.

    ``start()`` blocks until the server listens and ``stop()`` closes it, after which
    connections are refused; a later ``start()`` listens on the same port again, so a test
    can take an endpoint down and bring it back.  Stats survive a restart.  Use it as a
    context manager to be sure it stops.
    """

    def __init__(
        self, config: FakeServerConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """Prepare a server; ``port=0`` picks a free port on the first ``start()``.

        Raises ``ValueError`` if ``host`` is not a loopback IP address.
        """
        _check_loopback(host)
        self._endpoint = _FakeEndpoint(config if config is not None else FakeServerConfig())
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def config(self) -> FakeServerConfig:
        """The live knobs; mutate them (or assign a new config) while the server runs."""
        return self._endpoint.config

    @config.setter
    def config(self, config: FakeServerConfig) -> None:
        self._endpoint.config = config

    @property
    def port(self) -> int:
        """The port listened on; kept across ``stop()``/``start()``.

        Raises ``RuntimeError`` if the server was created with ``port=0`` and never started.
        """
        if self._port == 0:
            raise RuntimeError("the fake server has no port until it is started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL for an OpenAI client, e.g. ``http://127.0.0.1:PORT/v1``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/v1"

    def start(self) -> FakeServer:
        """Start listening (blocking until ready) and return ``self``; no-op if running."""
        with self._lock:
            if self._thread is not None:
                return self
            loop = asyncio.new_event_loop()
            ready: concurrent.futures.Future[int] = concurrent.futures.Future()
            thread = threading.Thread(
                target=self._serve, args=(loop, ready), name="FakeServer", daemon=True
            )
            thread.start()
            try:
                self._port = ready.result(timeout=_START_TIMEOUT_S)
            except BaseException:
                # The thread closes its loop itself when listening fails; after a timeout
                # it may still be starting, so ask it to stop if the loop is still open.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(loop.stop)
                thread.join(_START_TIMEOUT_S)
                raise
            self._thread, self._loop = thread, loop
            return self

    def stop(self) -> None:
        """Stop listening, cancelling in-flight requests after a short grace; idempotent."""
        with self._lock:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None:
                return
            if thread is threading.current_thread():
                raise RuntimeError("FakeServer.stop() cannot be called from its own handlers")
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            self._thread = self._loop = None

    def stats(self) -> FakeStats:
        """Return a snapshot of the counters (safe from any thread)."""
        return self._endpoint.stats()

    def reset_stats(self) -> None:
        """Zero every counter."""
        self._endpoint.reset_stats()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(
        self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[int]
    ) -> None:
        """Thread body: listen, report the port through ``ready``, serve until stopped."""
        asyncio.set_event_loop(loop)
        runner = self._endpoint.make_runner()
        try:
            try:
                port = loop.run_until_complete(_start_site(runner, self._host, self._port))
            except Exception as exc:  # handed to start(), which raises it in the caller
                ready.set_exception(exc)
                return
            ready.set_result(port)
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            _cancel_pending(loop)
            loop.close()


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m synthfactory.testing.fake_server",
        description="Serve a fake OpenAI-compatible chat-completions endpoint on 127.0.0.1 "
        "until SIGTERM/SIGINT; prints 'READY <base url>' once listening.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per answer")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="uniform extra delay")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 500")
    parser.add_argument("--rate-429", type=float, default=0.0, help="fraction answered 429")
    parser.add_argument("--retry-after", type=float, default=0.05, help="Retry-After seconds")
    parser.add_argument("--hang-rate", type=float, default=0.0, help="fraction that hang")
    parser.add_argument("--invalid-json-rate", type=float, default=0.0, help="broken JSON")
    parser.add_argument("--model", default="fake-model", help="model name to report")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random knobs")
    parser.add_argument(
        "--rate-limit-rps", type=float, default=0.0, help="token-bucket refill rate (0: off)"
    )
    parser.add_argument("--rate-limit-burst", type=int, default=1, help="token-bucket capacity")
    return parser.parse_args(argv)


async def _serve_until_signal(config: FakeServerConfig, port: int) -> None:
    endpoint = _FakeEndpoint(config)
    runner = endpoint.make_runner()
    try:
        bound = await _start_site(runner, "127.0.0.1", port)
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, stopped.set)
            except NotImplementedError:  # Windows event loops have no add_signal_handler
                signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stopped.set))
        sys.stdout.write(f"READY http://127.0.0.1:{bound}/v1\n")
        sys.stdout.flush()
        await stopped.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake server as a process (see the module docstring); returns the exit code."""
    args = _parse_args(argv)
    config = FakeServerConfig(
        latency_s=args.latency_ms / 1000.0,
        latency_jitter_s=args.jitter_ms / 1000.0,
        error_rate=args.error_rate,
        rate_429=args.rate_429,
        retry_after_s=args.retry_after,
        hang_rate=args.hang_rate,
        invalid_json_rate=args.invalid_json_rate,
        model=args.model,
        seed=args.seed,
        rate_limit_rps=args.rate_limit_rps,
        rate_limit_burst=args.rate_limit_burst,
    )
    try:
        # Same checks as POST /_fake/config, so a bad flag fails at once with a clear message.
        config.update(dataclasses.asdict(config))
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    asyncio.run(_serve_until_signal(config, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
