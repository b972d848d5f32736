"""Errors of the embedded local model, as a branch of synthfactory's one error tree.

::

    SynthFactoryError
    ├── MissingDependencyError (Fatal)     xllamacpp or a weight package is not installed
    └── LocalModelError (Fatal)            the embedded model cannot be made ready
        ├── WeightsChecksumError           the joined parts are not the official file
        ├── CacheFullError                 the cache directory has no room for the model
        ├── WeightsLockTimeoutError        another process held the assembly lock too long
        └── LocalServerError               the llama.cpp server did not start or answer

All of them are fatal: retrying cannot fix a wrong file, a full disk or a broken install.
They pickle like every :class:`~synthfactory.errors.SynthFactoryError`.
"""

from __future__ import annotations

from synthfactory.errors import Fatal, SynthFactoryError


class LocalModelError(SynthFactoryError, Fatal):
    """The embedded local model cannot be made ready; the message says why and what to do."""


class WeightsChecksumError(LocalModelError):
    """The joined part files do not hash to the official release value."""


class CacheFullError(LocalModelError):
    """The cache directory's file system has too little free space for the model file."""


class WeightsLockTimeoutError(LocalModelError):
    """Another process kept the assembly lock longer than the timeout."""


class LocalServerError(LocalModelError):
    """The llama.cpp server process did not start, did not become ready, or died."""


__all__ = [
    "CacheFullError",
    "LocalModelError",
    "LocalServerError",
    "WeightsChecksumError",
    "WeightsLockTimeoutError",
]
