"""The child process that hosts the llama.cpp server (``python -m synthfactory.local._serve``).

Protocol with :class:`~synthfactory.local.server.LocalModelServer`: the parent passes the
settings as one JSON argument; the child starts ``xllamacpp.Server``, prints one JSON line
``{"url": "http://127.0.0.1:PORT"}`` (or ``{"error": "..."}``) on stdout, then blocks
reading stdin. End of stdin means "stop": the parent closed it, or the parent died (even by
``kill -9``, the kernel closes the pipe), so the server never outlives its owner. The
process then exits with ``os._exit``: xllamacpp has no stop call, and only the end of the
process reliably closes its listening socket and native threads.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import Any

import orjson


def _serve(settings: dict[str, Any]) -> None:
    # Through import_module: xllamacpp ships no type information, and this keeps mypy
    # strict here without a per-module override.
    xllamacpp = importlib.import_module("xllamacpp")
    params = xllamacpp.CommonParams()
    params.model.path = settings["model_path"]
    params.model_alias = {settings["alias"]}
    params.hostnames = ["127.0.0.1"]
    params.port = int(settings["port"])
    params.n_parallel = int(settings["n_parallel"])
    # llama.cpp splits n_ctx evenly between the slots; we speak of context per slot.
    params.n_ctx = int(settings["ctx_size"]) * int(settings["n_parallel"])
    params.cpuparams.n_threads = int(settings["n_threads"])
    params.cpuparams_batch.n_threads = int(settings["n_threads"])
    params.cont_batching = True
    params.ui = False
    server = xllamacpp.Server(params)
    _reply({"url": server.listening_address})
    while sys.stdin.buffer.read(4096):
        pass


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(message) + b"\n")
    sys.stdout.buffer.flush()


def main() -> None:
    """Entry point of the child process."""
    # The parent decides when to stop (on Ctrl-C too): a terminal's SIGINT is not for us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code = 0
    try:
        _serve(orjson.loads(sys.argv[1]))
    except BaseException as err:
        _reply({"error": f"{type(err).__name__}: {err}"})
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
