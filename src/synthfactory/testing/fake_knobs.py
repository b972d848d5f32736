"""The knobs of the fake OpenAI-compatible server: :class:`FakeServerConfig` and the checks
that ``POST /_fake/config`` and the command line apply to a change.

See :mod:`synthfactory.testing.fake_server` for what each fault looks like on the wire.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final


@dataclass
class FakeServerConfig:
    """The knobs of a :class:`~synthfactory.testing.FakeServer`; mutate an instance to change
    them while it runs.

    Rates are fractions in ``[0, 1]`` drawn per request from ``random.Random(seed)``; the
    knobs are applied in this order: ``down`` (503), the rate limiter (429), hang, random
    429, 500, latency, then the broken answers (cut body, reset, wrong schema), answer.
    A rate of 0 draws nothing, so adding a knob leaves the others' sequence as it was.
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
    """Fraction of requests that are read and then never answered: they sleep ``hang_s``
    before the other knobs apply (a client that gave up cancels the sleep)."""
    hang_s: float = 3600.0
    """How long a hung request sleeps."""
    model: str = "fake-model"
    """Model name reported in answers and by ``GET /v1/models``."""
    seed: int = 0
    """Seed of the random knobs; changing it live restarts the random sequence."""
    invalid_json_rate: float = 0.0
    """Fraction of JSON-mode requests answered with truncated, unparseable JSON text."""
    truncated_body_rate: float = 0.0
    """Fraction of chat requests answered 200 with half a body: ``Content-Length`` promises
    the whole chat completion, the first half of its JSON is sent, then the connection is
    closed."""
    reset_rate: float = 0.0
    """Fraction of chat requests whose connection is reset (TCP RST) in the middle of the
    answer: after the status line, the headers and part of the body."""
    wrong_schema_rate: float = 0.0
    """Fraction of chat requests answered 200 with well-formed JSON that is not a chat
    completion (see :data:`synthfactory.testing.fake_faults.WRONG_SCHEMA_BODIES`)."""
    scripts: list[tuple[str, str]] = field(default_factory=list)
    """``(regex, text)`` pairs: the first regex found (``re.search``) in the last user
    message makes ``text`` the answer verbatim, before any JSON-mode handling."""
    down: bool = False
    """Answer 503 to every chat request; use :meth:`FakeServer.stop` for refused connections."""
    rate_limit_rps: float = 0.0
    """Refill rate (tokens per second) of the token-bucket rate limiter (see
    :mod:`synthfactory.testing.fake_server`); ``0`` turns it off.  Changing either limiter
    knob refills the bucket."""
    rate_limit_burst: int = 1
    """Capacity of the rate limiter's token bucket, which starts full."""

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``changes`` (field name to new value), all or nothing.

        This is what ``POST /_fake/config`` calls.  Raises :class:`ValueError` naming the
        problem if a name is not a knob, a value has the wrong type, a rate is outside
        ``[0, 1]``, a duration or ``rate_limit_rps`` is negative, ``rate_limit_burst`` is
        below 1 or a script regex does not compile.
        """
        checked = {name: check_knob(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)


RATE_KNOBS: Final = frozenset(
    {
        "error_rate",
        "rate_429",
        "hang_rate",
        "invalid_json_rate",
        "truncated_body_rate",
        "reset_rate",
        "wrong_schema_rate",
    }
)
_SECONDS_KNOBS: Final = frozenset({"latency_s", "latency_jitter_s", "retry_after_s", "hang_s"})
_NON_NEGATIVE_KNOBS: Final = _SECONDS_KNOBS | {"rate_limit_rps"}
_KNOB_NAMES: Final = frozenset(f.name for f in dataclasses.fields(FakeServerConfig))


def check_knob(name: str, value: Any) -> Any:
    """Return ``value`` converted for knob ``name``, or raise ``ValueError``."""
    if name not in _KNOB_NAMES:
        raise ValueError(f"unknown knob {name!r}; known knobs: {', '.join(sorted(_KNOB_NAMES))}")
    if name in RATE_KNOBS or name in _NON_NEGATIVE_KNOBS:
        # bool is an int subclass, but `"error_rate": true` is a caller's mistake.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0 or (name in RATE_KNOBS and value > 1):
            limit = "in [0, 1]" if name in RATE_KNOBS else ">= 0"
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


__all__ = ["RATE_KNOBS", "FakeServerConfig", "check_knob"]
