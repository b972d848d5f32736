"""The one error tree of synthfactory.

Retry policy is decided by type: ``isinstance(err, Retryable)`` means "try again later",
``isinstance(err, Fatal)`` means "stop, a human must act". A verifier's "no" is never an
exception: it is a :class:`~synthfactory.verdict.Verdict`.

::

    SynthFactoryError
    ├── UserInputError (Fatal)             bad input: a clear one-paragraph message
    │   ├── RecipeError                    a recipe that cannot be loaded or validated
    │   ├── ConfigError                    bad run configuration, unknown role, bad --endpoint
    │   ├── WorkspaceError                 workspace missing, locked, or from a newer version
    │   └── NotFoundError                  no such run, item or dataset
    ├── MissingDependencyError (Fatal)     an optional extra is not installed; names the pip line
    ├── ModelCallError                     a model call went wrong
    │   ├── TransientModelError (Retryable)   timeout, 5xx, connection reset
    │   │   └── RateLimitedError              429/503 with an optional Retry-After
    │   ├── ModelRequestError (Fatal)         4xx other than 429: the request itself is wrong
    │   ├── EndpointDownError (Fatal)         a run of consecutive failures: stop, resume later
    │   ├── FailFastError (Fatal)             --fail-fast and a call failed: stop at once
    │   └── CacheMissError (Fatal)            --replay and the request is not in the cache
    ├── InvalidOutputError (Retryable)      the model answered, but not with valid JSON/schema
    ├── StepError                            a user step raised; recorded on the item
    ├── PoolBrokenError (Fatal)              the verification pool keeps dying; stop the run
    ├── DiskFullError (Fatal)                the workspace's disk is full: stop, free space,
    │                                        resume (nothing stored is lost)
    ├── BudgetExceededError (Fatal)          max items or cost budget reached
    └── VerifierBelowFloorError (Fatal)      --strict-verifiers and a tier's canary catch
                                             rate is below its floor

Packages with a backend of their own draw their branch beside it and root it here:
``synthfactory.local.errors`` (``LocalModelError``: weights, checksum, cache full, server),
``synthfactory.sandbox.errors`` (``InsufficientIsolationError``, a ``ConfigError``: the host
lacks the layers untrusted code needs; ``SandboxBrokenError``, a ``PoolBrokenError``) and
``synthfactory.provenance.errors`` (``SecretInRecordError``, a ``UserInputError``;
``ProvenanceError`` and its branch) and ``synthfactory.dedup.errors`` (``CorpusError``, a
``UserInputError``; ``DedupConfigError``, a ``ConfigError``).

Every error pickles (they cross process and Ray boundaries): constructors take only the
message and simple keyword fields, which are passed through ``__reduce__``.
"""

from __future__ import annotations

from typing import Any


class Retryable:
    """Marker: the operation may succeed if tried again later."""


class Fatal:
    """Marker: retrying will not help; stop and report."""


class SynthFactoryError(Exception):
    """Root of every error synthfactory raises on purpose."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.fields))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[SynthFactoryError], message: str, fields: dict[str, Any]) -> Any:
    return cls(message, **fields)


class UserInputError(SynthFactoryError, Fatal):
    """Input a user can fix; the message says what and where."""


class RecipeError(UserInputError):
    """A recipe that cannot be loaded or validated."""


class ConfigError(UserInputError):
    """Bad run configuration: unknown role, malformed --endpoint, bad option."""


class WorkspaceError(UserInputError):
    """The workspace is missing, locked by another process, or written by a newer version."""


class NotFoundError(UserInputError):
    """No such run, item or dataset."""


class MissingDependencyError(SynthFactoryError, Fatal):
    """An optional extra is not installed; the message names the install command."""

    @classmethod
    def for_extra(cls, package: str, extra: str) -> MissingDependencyError:
        """Build the error for a missing ``package`` provided by ``synthfactory[extra]``."""
        return cls(
            f"{package} is not installed; it comes with the '{extra}' extra: "
            f"pip install 'synthfactory[{extra}]'",
            package=package,
            extra=extra,
        )


class ModelCallError(SynthFactoryError):
    """A model call went wrong."""


class TransientModelError(ModelCallError, Retryable):
    """Timeout, 5xx or a connection error: retry with backoff."""


class RateLimitedError(TransientModelError):
    """429 or 503: slow down; ``retry_after`` seconds if the server said so."""


class ModelRequestError(ModelCallError, Fatal):
    """A 4xx answer other than 429: the request itself is wrong (bad model id, bad key)."""


class EndpointDownError(ModelCallError, Fatal):
    """An endpoint failed too many times in a row; the run stops and can be resumed."""


class FailFastError(ModelCallError, Fatal):
    """``fail_fast`` is on and a model call failed: the run stops at the first error."""


class CacheMissError(ModelCallError, Fatal):
    """Replay mode and a request that is not in the cache."""


class InvalidOutputError(SynthFactoryError, Retryable):
    """The model answered, but the answer is not valid JSON or does not match the schema."""


class StepError(SynthFactoryError):
    """A user-written step raised; the error is recorded on the item."""


class PoolBrokenError(SynthFactoryError, Fatal):
    """The verification pool broke again and again without finishing any work."""


class DiskFullError(SynthFactoryError, Fatal):
    """A part of the workspace (audit log, ledger, cache, dataset) could not be written
    because its disk is full; the run stops, and resumes once space is freed."""


class BudgetExceededError(SynthFactoryError, Fatal):
    """The run reached its item or cost budget before its target."""


class VerifierBelowFloorError(SynthFactoryError, Fatal):
    """With ``strict_verifiers``: a verifier tier catches too few known-bad canaries."""


__all__ = [
    "BudgetExceededError",
    "CacheMissError",
    "ConfigError",
    "DiskFullError",
    "EndpointDownError",
    "FailFastError",
    "Fatal",
    "InvalidOutputError",
    "MissingDependencyError",
    "ModelCallError",
    "ModelRequestError",
    "NotFoundError",
    "PoolBrokenError",
    "RateLimitedError",
    "RecipeError",
    "Retryable",
    "StepError",
    "SynthFactoryError",
    "TransientModelError",
    "UserInputError",
    "VerifierBelowFloorError",
    "WorkspaceError",
]
