"""A fake OpenAI-compatible chat-completions server for tests and benchmarks.

The server speaks just enough of the OpenAI HTTP API (``POST /v1/chat/completions``,
``POST /v1/embeddings``, ``GET /v1/models``) for a client to be exercised end to end over
real loopback HTTP, with knobs (:class:`FakeServerConfig`) for the failures a real endpoint
produces.  Each rate is the fraction of chat requests it hits:

=======================  ============================================================
knob                     what the client gets
=======================  ============================================================
``latency_s``,           a delay before every answer (plus a uniform jitter)
``latency_jitter_s``
``error_rate``           HTTP 500
``rate_429``,            HTTP 429 with ``Retry-After: retry_after_s`` (e.g. ``3600``: a
``retry_after_s``        quota that resets in an hour)
``hang_rate``,           the request is read and never answered: the connection stays
``hang_s``               open, silent, for ``hang_s`` (an hour by default)
``truncated_body_rate``  200 with half a body: ``Content-Length`` promises the whole chat
                         completion, half of its JSON is sent, then the connection closes
``reset_rate``           the answer starts (status, headers, part of the body), then the
                         connection is reset (TCP RST)
``wrong_schema_rate``    200 with well-formed JSON that is not a chat completion (the
                         completions API's shape, no choices, content that is a number,
                         ... see :data:`~synthfactory.testing.fake_faults.WRONG_SCHEMA_BODIES`)
``invalid_json_rate``    in JSON mode, a message content that is JSON cut short
``down``                 HTTP 503 to everything (:meth:`FakeServer.stop` instead refuses
                         connections)
``rate_limit_rps``,      a real rate limiter (below)
``rate_limit_burst``
=======================  ============================================================

Besides random 429s (``rate_429``) there is a real rate limiter: a token bucket of
``rate_limit_burst`` tokens, refilled at ``rate_limit_rps`` per second and starting full.  A
chat request that finds no token is answered 429 with ``Retry-After`` (seconds, up to 3
decimals) and ``retry-after-ms``, the wait for the next token; answers then carry
``x-ratelimit-{limit,remaining,reset}-requests`` (the burst, whole tokens left, time until
the bucket is full such as ``"0.25s"``).  :class:`FakeStats` counts what each request got.

Use it in process (it runs in its own thread with its own event loop, so it works from sync
tests and from async tests running on any other loop)::

    with FakeServer(FakeServerConfig(latency_s=0.01)) as server:
        call_my_client(base_url=server.url)
        server.config.rate_429 = 1.0      # knobs change live
        assert server.stats().rate_limited == 0

or as a separate process, so that it does not share the client's CPU::

    python -m synthfactory.testing.fake_server --port 0 --latency-ms 200 --reset-rate 0.2
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

The parts live beside this module: the knobs in :mod:`.fake_knobs`, the rate limiter in
:mod:`.fake_limiter`, requests and answers in :mod:`.fake_answers`, broken answers in
:mod:`.fake_faults` and the aiohttp application with its counters in :mod:`.fake_app`.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import ipaddress
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Final

from aiohttp import web

from .fake_answers import fake_embedding, request_key
from .fake_app import FakeEndpoint, FakeStats
from .fake_knobs import FakeServerConfig

__all__ = ["FakeServer", "FakeServerConfig", "FakeStats", "fake_embedding", "main", "request_key"]

_START_TIMEOUT_S: Final = 10.0
# Benchmarks open many connections at once; the asyncio default backlog (100) drops some.
_BACKLOG: Final = 1024


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
        self._endpoint = FakeEndpoint(config if config is not None else FakeServerConfig())
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
    parser.add_argument(
        "--truncated-body-rate", type=float, default=0.0, help="fraction cut off mid-body"
    )
    parser.add_argument("--reset-rate", type=float, default=0.0, help="fraction reset mid-answer")
    parser.add_argument(
        "--wrong-schema-rate", type=float, default=0.0, help="fraction not a chat completion"
    )
    parser.add_argument("--model", default="fake-model", help="model name to report")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random knobs")
    parser.add_argument(
        "--rate-limit-rps", type=float, default=0.0, help="token-bucket refill rate (0: off)"
    )
    parser.add_argument("--rate-limit-burst", type=int, default=1, help="token-bucket capacity")
    return parser.parse_args(argv)


async def _serve_until_signal(config: FakeServerConfig, port: int) -> None:
    endpoint = FakeEndpoint(config)
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
        truncated_body_rate=args.truncated_body_rate,
        reset_rate=args.reset_rate,
        wrong_schema_rate=args.wrong_schema_rate,
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
