"""An OpenAI-compatible chat-completions client on aiohttp (vLLM, llama.cpp, Ollama, OpenAI...).

Policy, by failure type:

* 429 and 503: overload. Halve the concurrency window (AIMD), close the endpoint's gate for
  ``Retry-After`` (or a jittered backoff), and retry: the work is deferred, never dropped.
* a ``Retry-After`` (or an exhausted ``x-ratelimit-reset-*``) longer than
  ``max_retry_after_s``: not honoured; the request counts one failed try (below). Why: a
  wait of an hour is a quota that resets in an hour, not back-pressure, and closing the
  gate for it would stall the whole run for the hour. openai-python does the same (it
  honours 0 < Retry-After <= 60 s, else falls back to its own capped backoff under
  ``max_retries``); httpx-retries clamps the wait to ``max_backoff_wait`` and also counts
  the try. Counting it as a failure also ends the case where every request gets it (an
  exhausted quota): the endpoint is declared down and the run stops, to be resumed.
* timeouts, other 5xx, an answer that broke off (a reset, a body shorter than its
  ``Content-Length``) and a 200 that is not a chat completion: exponential backoff with
  full jitter, at most ``max_retries`` times, then the item fails (with the error kept).
* connection errors (the server could not be reached): the same backoff, but they never
  fail an item: they only count towards declaring the endpoint down.
* other 4xx: the request is wrong; fail at once.
* a run of ``down_after_failures`` consecutive failures with no success for ``down_after_s``:
  :class:`EndpointDownError`, so the run stops instead of burning retries on a dead server.
* ``fail_fast``: the first error of any kind is raised.

:func:`worst_call_s` is how long one call can take through failures alone.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from synthfactory.errors import (
    EndpointDownError,
    FailFastError,
    ModelRequestError,
    RateLimitedError,
    TransientModelError,
)
from synthfactory.models.client import ChatRequest, ChatResponse
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.models.limiter import AdaptiveLimiter

_MAX_OVERLOAD_RETRIES = 200
_BACKOFF_BASE_S = 0.25
_BACKOFF_CAP_S = 20.0


@dataclass
class EndpointStats:
    """Counters of one endpoint, read by the progress display and the run summary."""

    requests: int = 0
    ok: int = 0
    rate_limited: int = 0
    retries: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class OpenAIChatClient:
    """One endpoint's client. Shares the caller's ``aiohttp.ClientSession`` (one pool per run)."""

    def __init__(
        self,
        config: EndpointConfig,
        session: aiohttp.ClientSession,
        *,
        limiter: AdaptiveLimiter | None = None,
    ) -> None:
        if config.model is None:
            raise ValueError("resolve the endpoint's model id (discover_model) before use")
        self.config = config
        self.stats = EndpointStats()
        self.limiter = limiter or AdaptiveLimiter(config.concurrency)
        self._session = session
        self._url = f"{config.url}/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        if config.api_key is not None:
            self._headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        self._rng = random.Random()
        self._consecutive_failures = 0
        self._last_success = time.monotonic()
        self._last_error = ""
        self._tripped: FailFastError | None = None

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Send ``request`` with this endpoint's retry and rate policy."""
        failures = 0
        overloads = 0
        while True:
            self._check_down()
            await self.limiter.acquire()
            try:
                # Checked again after the wait: the endpoint may have been declared down, or
                # fail-fast tripped, while this request queued for a slot.
                self._check_down()
                response = await self._send(request)
            except RateLimitedError as err:
                self.limiter.release()
                self.limiter.on_overload(err.fields.get("retry_after"))
                self.stats.rate_limited += 1
                if err.fields.get("status") == 503:
                    self._record_failure(str(err))
                overloads += 1
                if self.config.fail_fast:
                    self._tripped = FailFastError(f"--fail-fast: {self._what()}: {err}")
                    raise self._tripped from None
                if overloads > _MAX_OVERLOAD_RETRIES:
                    raise
                self.stats.retries += 1
                await asyncio.sleep(err.fields.get("retry_after") or self._backoff(overloads))
                continue
            except TransientModelError as err:
                self.limiter.release()
                self._record_failure(str(err))
                if err.fields.get("status") == 429:
                    self.stats.rate_limited += 1
                # An unreachable endpoint says nothing about this request: keep it (with
                # backoff) until the endpoint is declared down, which stops the run.
                if err.fields.get("kind") != "connection":
                    failures += 1
                if self.config.fail_fast:
                    self._tripped = FailFastError(f"--fail-fast: {self._what()}: {err}")
                    raise self._tripped from None
                if failures > self.config.max_retries:
                    raise type(err)(
                        f"{err} (gave up after {failures} tries)", **err.fields
                    ) from None
                self.stats.retries += 1
                await asyncio.sleep(self._backoff(failures))
                continue
            except BaseException:
                self.limiter.release()
                raise
            self.limiter.release()
            self.limiter.on_success()
            self._consecutive_failures = 0
            self._last_success = time.monotonic()
            return response

    async def aclose(self) -> None:
        """Nothing to close: the session belongs to the caller."""

    def _what(self) -> str:
        return f"endpoint for role {self.config.role!r} at {self.config.url}"

    def _backoff(self, attempt: int) -> float:
        return self._rng.uniform(0, min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt))

    def _record_failure(self, message: str) -> None:
        self._consecutive_failures += 1
        self._last_error = message
        self.stats.errors += 1

    def _check_down(self) -> None:
        if self._tripped is not None:
            raise self._tripped
        if (
            self._consecutive_failures >= self.config.down_after_failures
            and time.monotonic() - self._last_success >= self.config.down_after_s
        ):
            raise EndpointDownError(
                f"endpoint for role {self.config.role!r} at {self.config.url} looks down: "
                f"{self._consecutive_failures} failures in a row and no success for "
                f"{time.monotonic() - self._last_success:.0f}s (last error: {self._last_error}). "
                "The run stopped; nothing is lost. Bring the server back, then resume the run.",
                role=self.config.role,
                url=self.config.url,
            )

    async def _send(self, request: ChatRequest) -> ChatResponse:
        self.stats.requests += 1
        started = time.monotonic()
        try:
            async with self._session.post(
                self._url,
                data=orjson.dumps(request.body()),
                headers=self._headers,
                timeout=self._timeout,
            ) as resp:
                raw = await resp.read()
                status = resp.status
                headers = resp.headers
        except TimeoutError:
            raise TransientModelError(
                f"timed out after {self.config.timeout_s:g}s", kind="timeout"
            ) from None
        except aiohttp.ClientConnectorError as err:
            raise TransientModelError(
                f"connection error: {type(err).__name__}: {err}", kind="connection"
            ) from None
        except aiohttp.ClientError as err:
            # The request reached the server and the answer broke off (a reset, a body
            # shorter than its Content-Length): unlike an unreachable server, this can be
            # the request's own doing (a server that crashes on it), so it counts a try.
            raise TransientModelError(
                f"the answer broke off: {type(err).__name__}: {err}", kind="broken"
            ) from None
        if status == 200:
            self._respect_ratelimit_headers(headers)
            response = self._parse(raw, time.monotonic() - started)
            self.stats.ok += 1
            self.stats.prompt_tokens += response.prompt_tokens
            self.stats.completion_tokens += response.completion_tokens
            return response
        detail = _error_detail(raw)
        if status in (429, 503):
            wait = _retry_after(headers)
            cap = self.config.max_retry_after_s
            if wait is not None and wait > cap:
                raise TransientModelError(
                    f"HTTP {status} with a Retry-After of {wait:.0f}s, longer than the "
                    f"{cap:g}s this endpoint waits (max_retry_after_s): {detail}",
                    status=status,
                    retry_after=wait,
                )
            raise RateLimitedError(f"HTTP {status}: {detail}", status=status, retry_after=wait)
        if status == 408 or status >= 500:
            raise TransientModelError(f"HTTP {status}: {detail}", status=status)
        raise ModelRequestError(
            f"endpoint for role {self.config.role!r} refused the request: HTTP {status}: {detail}",
            status=status,
        )

    def _respect_ratelimit_headers(self, headers: Any) -> None:
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            reset = headers.get(f"x-ratelimit-reset-{kind}")
            if remaining is not None and reset is not None and remaining.strip() == "0":
                delay = parse_duration(reset)
                if delay:
                    # Capped like Retry-After: a reset an hour away must not close the gate
                    # for an hour; the requests then sent meet 429s and are counted.
                    delay = min(delay, self.config.max_retry_after_s)
                    self.limiter.pause_until(time.monotonic() + delay)

    def _parse(self, raw: bytes, latency_s: float) -> ChatResponse:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise _not_a_completion(f"not JSON: {err}", raw) from None
        choice = _path(data, "choices", 0)
        message = _path(choice, "message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(content, str | None):
            raise _not_a_completion("no text at choices[0].message.content", raw)
        usage = data.get("usage") or {}
        if not isinstance(usage, dict):
            raise _not_a_completion("usage is not an object", raw)
        tokens = [usage.get(name) or 0 for name in ("prompt_tokens", "completion_tokens")]
        if not all(type(n) is int and n >= 0 for n in tokens):
            raise _not_a_completion("usage token counts are not whole numbers", raw)
        finish = choice.get("finish_reason")
        return ChatResponse(
            content=content or "",
            model=str(data.get("model") or self.config.model),
            prompt_tokens=tokens[0],
            completion_tokens=tokens[1],
            finish_reason=finish if isinstance(finish, str) else None,
            latency_s=latency_s,
        )


def _path(value: Any, *steps: str | int) -> Any:
    """``value[step][step]...``, or None where a step is missing or of the wrong kind."""
    for step in steps:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return value


def _not_a_completion(why: str, raw: bytes) -> TransientModelError:
    return TransientModelError(
        f"the answer is not a chat completion ({why}): {raw[:200]!r}", kind="malformed"
    )


def worst_call_s(config: EndpointConfig) -> float:
    """The longest :meth:`OpenAIChatClient.complete` can take through failed tries alone:
    ``max_retries + 1`` tries of ``timeout_s`` each and the largest backoff after each failed
    one. Overload (429/503 with a Retry-After up to ``max_retry_after_s``) defers a request
    beyond this, by design; an unreachable endpoint is bounded by being declared down."""
    backoffs = sum(
        min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2.0**attempt)
        for attempt in range(1, config.max_retries + 1)
    )
    return (config.max_retries + 1) * config.timeout_s + backoffs


async def discover_model(session: aiohttp.ClientSession, config: EndpointConfig) -> str:
    """Ask ``GET /models`` which model the endpoint serves (the first one listed)."""
    headers = {}
    if config.api_key is not None:
        headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
    try:
        async with session.get(
            f"{config.url}/models", headers=headers, timeout=aiohttp.ClientTimeout(total=15)
        ) as resp:
            raw = await resp.read()
            if resp.status != 200:
                raise ModelRequestError(
                    f"GET {config.url}/models answered HTTP {resp.status}: {_error_detail(raw)}; "
                    "name the model with --endpoint ROLE=URL,model=NAME"
                )
        return str(orjson.loads(raw)["data"][0]["id"])
    except (aiohttp.ClientError, TimeoutError) as err:
        raise EndpointDownError(
            f"endpoint for role {config.role!r} at {config.url} is unreachable "
            f"({type(err).__name__}: {err}). Is the server running? Check the URL, "
            "or pass another with --endpoint ROLE=URL.",
            role=config.role,
            url=config.url,
        ) from None
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        raise ModelRequestError(
            f"GET {config.url}/models did not list a model; "
            "name it with --endpoint ROLE=URL,model=NAME"
        ) from None


def _error_detail(raw: bytes) -> str:
    try:
        data = orjson.loads(raw)
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            return str(data["error"].get("message", ""))[:300]
    except orjson.JSONDecodeError:
        pass
    return raw[:300].decode("utf-8", "replace")


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        if when is None:
            return None
        return max(0.0, when.timestamp() - time.time())


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float | None:
    """Parse ``x-ratelimit-reset-*`` values: ``"1.5"``, ``"20ms"``, ``"6m0s"``, ``"1h2m"``."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = _DURATION.findall(text)
    if not parts:
        return None
    return sum(float(n) * scale[u] for n, u in parts)
