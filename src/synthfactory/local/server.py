"""The embedded llama.cpp server: started in a child process, on loopback, stopped for sure.

Why a child process and not in-process
    ``xllamacpp.Server`` has no stop call. Measured here: after ``del server`` and
    ``gc.collect()`` in-process, its port was still bound 3 s later, so a run could never
    give the port (nor the model's memory and threads) back. A child process is stopped by
    ending it, which the kernel makes complete: socket, threads, memory. It also isolates
    crashes (a native abort in llama.cpp takes down the child, not the run, and is reported
    with the server's log), and keeps the driver's event loop free of native work. The cost
    is the child's start: a fresh interpreter and imports, about 0.2-0.3 s on top of the
    model load (0.5B ready in 1.1-1.5 s in a child, 0.8-1.2 s in-process).

Never orphaned
    The child blocks reading its stdin; the parent holds the other end. :meth:`stop` closes
    it (then SIGTERM, then SIGKILL, each after a grace period); if the parent dies in any
    way, even ``kill -9``, the kernel closes the pipe and the child exits by itself. The
    child runs in its own session, so a terminal's Ctrl-C reaches only the parent, whose
    ``with`` block then stops the child in order.

Defaults from the machine
    ``n_threads``: the CPUs this process may run on (``os.sched_getaffinity``), at most 8
    (llama.cpp's token generation is memory-bound; more threads than that only add
    contention). ``n_parallel``: 4 slots. On 2 cores (``bench/bench_local_model.py``,
    ``bench/results/local_model.json``) aggregate throughput is nearly flat from 1 to 8
    slots, because two threads already saturate both cores: 0.5B 48/36/51/49 tok/s and
    1.5B 29/32/31/35 tok/s at 1/2/4/8 slots. 4 slots was the best for the 0.5B and within
    ~12% of the best for the 1.5B, keeps several items in flight for the run driver, and
    holds per-request latency near 4-7 s where 8 slots doubles it. ``ctx_size`` is the
    context *per slot* (llama.cpp splits its total between the slots), 4096 tokens by
    default.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from synthfactory.errors import MissingDependencyError
from synthfactory.local.errors import LocalServerError
from synthfactory.models.endpoint import EndpointConfig

DEFAULT_PARALLEL = 4
DEFAULT_CTX_SIZE = 4096
_MAX_THREADS = 8

CPU_HOUR_USD = 0.0446
"""USD per vCPU-hour used to price the local server.

An AWS ``c7i.large`` (2 vCPU, 4 GiB) costs USD 0.08925 per hour on demand (Linux,
us-east-1): USD 0.0446 per vCPU-hour. The local endpoint is priced at that rate times the
threads it runs, so a run on the embedded model still reports a cost per usable example
comparable with a hosted endpoint's.
"""

_STOP_GRACE_S = 5.0


def default_threads() -> int:
    """The CPUs this process may run on (affinity and cpusets respected), at most 8."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable, _MAX_THREADS))


class LocalModelServer:
    """A llama.cpp server for one GGUF file, in a child process on 127.0.0.1.

    Use it as a context manager; ``url`` (``http://127.0.0.1:PORT/v1``) and ``model`` (the id
    it serves) are set once it is ready::

        with LocalModelServer(path) as server:
            config = local_endpoint("generator", server)
    """

    def __init__(
        self,
        model_path: Path,
        *,
        n_parallel: int = DEFAULT_PARALLEL,
        n_threads: int | None = None,
        ctx_size: int = DEFAULT_CTX_SIZE,
        port: int = 0,
        ready_timeout_s: float = 120.0,
    ) -> None:
        if n_parallel < 1 or ctx_size < 256:
            raise ValueError("n_parallel must be >= 1 and ctx_size >= 256")
        self.model_path = Path(model_path)
        self.n_parallel = n_parallel
        self.n_threads = n_threads if n_threads is not None else default_threads()
        self.ctx_size = ctx_size
        self.port = port
        self.ready_timeout_s = ready_timeout_s
        self.model = self.model_path.name.removesuffix(".gguf")
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._base = ""

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL, ending in ``/v1``."""
        if not self._base:
            raise LocalServerError("the local model server is not running")
        return f"{self._base}/v1"

    @property
    def pid(self) -> int | None:
        """The child process id while it runs."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the child, wait until it answers ``/health`` and serves the model."""
        if self._process is not None:
            raise LocalServerError("the local model server is already running")
        if importlib.util.find_spec("xllamacpp") is None:
            raise MissingDependencyError.for_extra("xllamacpp", "local")
        if not self.model_path.is_file():
            raise LocalServerError(f"model file {self.model_path} does not exist")
        settings = {
            "model_path": str(self.model_path),
            "alias": self.model,
            "port": self.port,
            "n_parallel": self.n_parallel,
            "n_threads": self.n_threads,
            "ctx_size": self.ctx_size,
        }
        # Lives as long as the child (its stderr); closed in stop().
        self._log = tempfile.TemporaryFile(prefix="synthfactory-llama-")  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, "-m", "synthfactory.local._serve", orjson.dumps(settings).decode()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + self.ready_timeout_s
            self._base = self._read_address(deadline).rstrip("/")
            self._wait_ready(deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the child and wait for it (idempotent). Its port is free afterwards."""
        process, self._process = self._process, None
        self._base = ""
        if process is not None:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            try:
                process.wait(_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(_STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _read_address(self, deadline: float) -> str:
        process = self._process
        assert process is not None and process.stdout is not None
        buffer = b""
        while True:
            # Native code may print to stdout too: take the first line that is our reply.
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    reply = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(reply, dict) and "error" in reply:
                    raise self._failure(f"could not load the model: {reply['error']}")
                if isinstance(reply, dict) and "url" in reply:
                    return str(reply["url"])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._failure(f"did not start within {self.ready_timeout_s:.0f}s")
            ready, _, _ = select.select([process.stdout], [], [], remaining)
            if ready:
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    raise self._failure(f"exited with code {process.wait()} while starting")
                buffer += chunk

    def _wait_ready(self, deadline: float) -> None:
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise self._failure("exited while loading the model")
            try:
                models = _get_json(f"{self._base}/v1/models")
                served = [str(m.get("id")) for m in models.get("data", [])]
                if _get_json(f"{self._base}/health").get("status") == "ok":
                    if self.model not in served:
                        raise self._failure(f"serves {served}, not {self.model!r}")
                    return
            except (OSError, ValueError) as err:
                last = f"{type(err).__name__}: {err}"
            time.sleep(0.1)
        raise self._failure(
            f"was not ready within {self.ready_timeout_s:.0f}s (last health check: {last})"
        )

    def _failure(self, what: str) -> LocalServerError:
        return LocalServerError(
            f"the local llama.cpp server for {self.model_path.name} {what}.{self._log_tail()}",
            model_path=str(self.model_path),
        )

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        with contextlib.suppress(OSError):
            self._log.seek(0, os.SEEK_END)
            size = self._log.tell()
            self._log.seek(max(0, size - 2000))
            tail = self._log.read().decode("utf-8", "replace").strip()
            if tail:
                return f"\nIts log ends with:\n{tail}"
        return ""


def _get_json(url: str) -> dict[str, Any]:
    # The server's own loopback: no proxy may stand between.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as resp:
            data = orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        # 503 while the model loads: not ready yet.
        raise ValueError(f"HTTP {err.code}") from None
    return data if isinstance(data, dict) else {}


def local_endpoint(
    role: str, server: LocalModelServer, *, price_hour: float | None = None
) -> EndpointConfig:
    """An :class:`EndpointConfig` for ``role`` served by a running ``server``.

    ``price_hour`` defaults to :data:`CPU_HOUR_USD` times the server's threads. Concurrency
    equals the server's slots: more requests in flight would only queue inside llama.cpp,
    where their wait would count against the request timeout. The timeout is long (10 min)
    because a slot on 2 CPU cores makes only a few tokens per second.
    """
    return EndpointConfig(
        role=role,
        url=server.url,
        model=server.model,
        price_hour=CPU_HOUR_USD * server.n_threads if price_hour is None else price_hour,
        concurrency=server.n_parallel,
        timeout_s=600.0,
    )


__all__ = [
    "CPU_HOUR_USD",
    "DEFAULT_CTX_SIZE",
    "DEFAULT_PARALLEL",
    "LocalModelServer",
    "default_threads",
    "local_endpoint",
]
