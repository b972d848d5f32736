"""Public test fakes for code built on synthfactory.

- :class:`FakeServer`: a fake OpenAI-compatible chat-completions server on loopback, with
  latency, error-rate, 429 (any ``Retry-After``), token-bucket rate-limit, hang, half-sent
  body, mid-answer reset, wrong-schema, broken-JSON and endpoint-down knobs
  (:class:`FakeServerConfig`) and request counters (:class:`FakeStats`).  It also runs
  as a process: ``python -m synthfactory.testing.fake_server --help``.  Its JSON-mode
  answers come from :mod:`synthfactory.testing.fake_json`.
- :class:`FakeSandbox`: scripted sandbox results by job id; it never executes code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthfactory.sandbox.fake import FakeSandbox

    from .fake_server import FakeServer, FakeServerConfig, FakeStats

__all__ = ["FakeSandbox", "FakeServer", "FakeServerConfig", "FakeStats"]

# Loaded on first use: importing the module here would make
# `python -m synthfactory.testing.fake_server` warn that the module ran after being imported.
_LAZY = {name: "synthfactory.testing.fake_server" for name in __all__}
_LAZY["FakeSandbox"] = "synthfactory.sandbox.fake"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
