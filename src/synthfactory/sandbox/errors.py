"""Errors of the sandbox (to move into ``synthfactory.errors`` and its tree)::

ConfigError
└── InsufficientIsolationError (Fatal)   too few layers here for untrusted code
PoolBrokenError
└── SandboxBrokenError (Fatal)           the pool server cannot be (re)started
"""

from __future__ import annotations

from synthfactory.errors import ConfigError, PoolBrokenError


class InsufficientIsolationError(ConfigError):
    """This host offers fewer isolation layers than untrusted code requires.

    The message lists what is missing and why; pass ``allow_weak_isolation=True`` only for
    code you trust.
    """


class SandboxBrokenError(PoolBrokenError):
    """The sandbox pool server failed to start, or died and could not be restarted."""


__all__ = ["InsufficientIsolationError", "SandboxBrokenError"]
