"""A fake OpenAI-compatible chat-completions server for tests and benchmarks.

The server speaks just enough of the OpenAI HTTP API (``POST /v1/chat/completions``,
``GET /v1/models``) for a client to be exercised end to end over real loopback HTTP, with
knobs for the failures a real endpoint produces: latency, HTTP 500, HTTP 429 with
``Retry-After``, hung requests, broken JSON and a whole endpoint going down.

Use it in process (it runs in its own thread with its own event loop, so it works from sync
tests and from async tests running on any other loop)::

    with FakeServer(FakeServerConfig(latency_s=0.01)) as server:
        call_my_client(base_url=server.url)
        server.config.rate_429 = 1.0      # knobs change live
        assert server.stats().rate_limited == 0

or as a separate process, so that it does not share the client's CPU::

    python -m synthfactory.testing.fake_server --port 0 --latency-ms 200
    # prints "READY http://127.0.0.1:PORT/v1" once listening; serves until SIGTERM/SIGINT

A server in another process is driven over HTTP: ``GET /_fake/stats`` returns
:class:`FakeStats` as JSON, ``POST /_fake/config`` updates knobs (see
:meth:`FakeServerConfig.update`) and ``POST /_fake/reset_stats`` zeroes the counters.

Answers are deterministic: the content depends only on the *request key* (see
:func:`request_key`) and on the scripts, and the random knobs draw from
``random.Random(config.seed)``, so a run with the same requests in the same order sees the
same faults.  The server only ever listens on a loopback address.
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
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiohttp import web

__all__ = ["FakeServer", "FakeServerConfig", "FakeStats", "main", "request_key"]

# A stopped fake should look like an endpoint that went away, not one that drains politely:
# in-flight requests (including hung ones) get this long before they are cancelled.
_SHUTDOWN_GRACE_S: Final = 0.1
_START_TIMEOUT_S: Final = 10.0
# Benchmarks open many connections at once; the asyncio default backlog (100) drops some.
_BACKLOG: Final = 1024
_KEY_FIELDS: Final = ("messages", "seed", "model", "response_format")
_OK_HEADERS: Final = {"x-ratelimit-remaining-requests": "1000"}
_JSON: Final = "application/json"


@dataclass
class FakeServerConfig:
    """The knobs of a :class:`FakeServer`; mutate an instance to change them while it runs.

    Rates are fractions in ``[0, 1]`` drawn per request from ``random.Random(seed)``; the
    knobs are applied in this order: ``down`` (503), hang, 429, 500, latency, answer.
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

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``changes`` (field name to new value), all or nothing.

        This is what ``POST /_fake/config`` calls.  Raises :class:`ValueError` naming the
        problem if a name is not a knob, a value has the wrong type, a rate is outside
        ``[0, 1]``, a duration is negative or a script regex does not compile.
        """
        checked = {name: _check_knob(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)


_RATE_KNOBS: Final = frozenset({"error_rate", "rate_429", "hang_rate", "invalid_json_rate"})
_SECONDS_KNOBS: Final = frozenset({"latency_s", "latency_jitter_s", "retry_after_s", "hang_s"})
_KNOB_NAMES: Final = frozenset(f.name for f in dataclasses.fields(FakeServerConfig))


def _check_knob(name: str, value: Any) -> Any:
    """Return ``value`` converted for knob ``name``, or raise ``ValueError``."""
    if name not in _KNOB_NAMES:
        raise ValueError(f"unknown knob {name!r}; known knobs: {', '.join(sorted(_KNOB_NAMES))}")
    if name in _RATE_KNOBS or name in _SECONDS_KNOBS:
        # bool is an int subclass, but `"error_rate": true` is a caller's mistake.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0 or (name in _RATE_KNOBS and value > 1):
            limit = "in [0, 1]" if name in _RATE_KNOBS else ">= 0"
            raise ValueError(f"{name} must be {limit}, got {value!r}")
        return float(value)
    if name == "scripts":
        return _check_scripts(value)
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
    """Requests answered 429 by the ``rate_429`` knob."""
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


def request_key(body: Mapping[str, Any]) -> str:
    """Return the request key of a chat-completions request body.

    The key is the SHA-256 hex digest of the orjson dump, with sorted keys, of the body
    restricted to the fields present among ``messages``, ``seed``, ``model`` and
    ``response_format``; other fields (temperature, max_tokens, ...) do not change it.
    """
    subset = {name: body[name] for name in _KEY_FIELDS if name in body}
    return hashlib.sha256(orjson.dumps(subset, option=orjson.OPT_SORT_KEYS)).hexdigest()


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


def _break_json(text: str) -> str:
    """Truncate a JSON text so that it no longer parses."""
    broken = text[: len(text) // 2]
    try:
        orjson.loads(broken)
    except orjson.JSONDecodeError:
        if broken:
            return broken
    # Half of a scalar such as `12` can still parse; an unclosed brace never does.
    return "{" + broken


class _SchemaFaker:
    """Builds one JSON value valid against a JSON Schema, deterministically from a seed.

    Supported: ``type`` (also lists such as ``["string", "null"]``), ``object`` (all
    properties; only required ones past ``_MAX_DEPTH``), ``string`` (length bounds and a few
    formats), ``integer``/``number`` (bounds, exclusive bounds, ``multipleOf``),
    ``boolean``, ``null``, ``array`` (``items``, ``prefixItems``, item counts,
    ``uniqueItems``), ``enum``, ``const``, ``anyOf``/``oneOf`` (first option), ``allOf``
    (merged) and local ``$ref`` (``#/$defs/...``).  ``pattern`` and ``not`` are ignored.
    """

    # Past this depth optional properties and items are left out, so recursive schemas end.
    _MAX_DEPTH: Final = 8
    _MAX_REF_HOPS: Final = 64

    def __init__(self, root: dict[str, Any], seed: str) -> None:
        self._root = root
        self._seed = seed

    def build(self) -> Any:
        """Return a value valid against the root schema."""
        return self._make(self._root, "$", 0)

    def _hex(self, path: str) -> str:
        return hashlib.sha256(f"{self._seed}|{path}".encode()).hexdigest()[:8]

    def _number_from(self, path: str) -> int:
        return int(self._hex(path), 16)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        hops = 0
        while "$ref" in schema:
            hops += 1
            if hops > self._MAX_REF_HOPS:
                raise _BadRequestError("schema $ref chain does not end")
            target = self._pointer(schema["$ref"])
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings}
        return schema

    def _pointer(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise _BadRequestError(f"only local schema $ref are supported, got {ref!r}")
        node: Any = self._root
        for raw in ref[1:].split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise _BadRequestError(f"schema $ref {ref!r} does not resolve")
        if not isinstance(node, dict):
            raise _BadRequestError(f"schema $ref {ref!r} does not point to a schema")
        return node

    def _flatten(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        """Resolve ``$ref``, merge ``allOf`` and pick ``anyOf``/``oneOf`` options until
        the schema has none of them left."""
        for _ in range(self._MAX_REF_HOPS):
            schema = self._resolve(schema)
            all_of = schema.get("allOf")
            if isinstance(all_of, list):
                merged = {k: v for k, v in schema.items() if k != "allOf"}
                for part in all_of:
                    if isinstance(part, dict):
                        merged = _merge_schemas(merged, self._resolve(part))
                schema = merged
                continue
            word = next((w for w in ("anyOf", "oneOf") if isinstance(schema.get(w), list)), None)
            if word is None:
                return schema
            options = schema[word]
            rest = {k: v for k, v in schema.items() if k != word}
            if not options:
                schema = rest
                continue
            option = options[0]
            if depth >= self._MAX_DEPTH:
                # A recursive schema usually ends in an optional (nullable) branch: take it.
                option = next((o for o in options if _is_null_schema(o)), option)
            schema = _merge_schemas(rest, self._resolve(option) if isinstance(option, dict) else {})
        raise _BadRequestError("schema combinators and $ref nest too deeply")

    def _make(self, schema: Any, path: str, depth: int) -> Any:
        if not isinstance(schema, dict):
            # `true` (or any non-object) accepts everything.
            return f"fake text {self._hex(path)}"
        schema = self._flatten(schema, depth)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return enum[self._number_from(path) % len(enum)]
        kind = _schema_type(schema, prefer_null=depth >= self._MAX_DEPTH)
        if kind == "object":
            return self._object(schema, path, depth)
        if kind == "array":
            return self._array(schema, path, depth)
        if kind == "integer":
            return self._integer(schema, path)
        if kind == "number":
            return self._float(schema, path)
        if kind == "boolean":
            return self._number_from(path) % 2 == 0
        if kind == "null":
            return None
        return self._string(schema, path)

    def _object(self, schema: dict[str, Any], path: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = schema.get("required")
        required = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        names = (
            list(properties)
            if depth < self._MAX_DEPTH
            else [name for name in properties if name in required]
        )
        out = {name: self._make(properties[name], f"{path}.{name}", depth + 1) for name in names}
        extra = schema.get("additionalProperties")
        for name in required:
            if name not in out:
                sub = extra if isinstance(extra, dict) else {}
                out[name] = self._make(sub, f"{path}.{name}", depth + 1)
        return out

    def _array(self, schema: dict[str, Any], path: str, depth: int) -> list[Any]:
        items = schema.get("items")
        prefix = schema.get("prefixItems")
        if isinstance(items, list):
            # Draft 4-2019 tuple form: `items` is the prefix, `additionalItems` the rest.
            prefix, items = items, schema.get("additionalItems")
        prefix = prefix if isinstance(prefix, list) else []
        min_items = _int_or(schema.get("minItems"), 0)
        max_items = schema.get("maxItems")
        count = min_items if depth >= self._MAX_DEPTH else max(min_items, 1)
        if isinstance(max_items, int):
            count = min(count, max_items)
        if items is False:
            count = min(count, len(prefix))
        unique = schema.get("uniqueItems") is True
        out: list[Any] = []
        for attempt in range(count * 4 + 8):
            if len(out) >= count:
                break
            position = len(out)
            sub = prefix[position] if position < len(prefix) else items
            value = self._make(sub if sub is not None else {}, f"{path}[{attempt}]", depth + 1)
            if unique and value in out:
                continue
            out.append(value)
        return out

    def _string(self, schema: dict[str, Any], path: str) -> str:
        digest = self._hex(path)
        text = _FORMATS.get(str(schema.get("format")), "fake text {h}").format(h=digest)
        if schema.get("format") == "uuid":
            text = str(uuid.UUID(hashlib.sha256(f"{self._seed}|{path}".encode()).hexdigest()[:32]))
        min_length = _int_or(schema.get("minLength"), 0)
        max_length = schema.get("maxLength")
        if len(text) < min_length:
            text += "x" * (min_length - len(text))
        if isinstance(max_length, int) and len(text) > max_length:
            text = text[:max_length]
        return text

    def _integer(self, schema: dict[str, Any], path: str) -> int:
        low_f, high_f, low_open, high_open = _bounds(schema)
        low = None if low_f is None else math.floor(low_f) + 1 if low_open else math.ceil(low_f)
        high = (
            None if high_f is None else math.ceil(high_f) - 1 if high_open else math.floor(high_f)
        )
        spread = self._number_from(path) % 100
        if low is not None and high is not None:
            value = low + spread % (high - low + 1) if high >= low else low
        elif low is not None:
            value = low + spread
        elif high is not None:
            value = high - spread
        else:
            value = spread
        step = schema.get("multipleOf")
        if isinstance(step, int) and not isinstance(step, bool) and step > 0:
            value = math.ceil(value / step) * step
            if high is not None and value > high:
                value -= step
        return value

    def _float(self, schema: dict[str, Any], path: str) -> float | int:
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
            return self._multiple(schema, path, step)
        low, high, low_open, high_open = _bounds(schema)
        spread = self._number_from(path) % 100
        if low is not None and high is not None:
            # Strictly inside the interval, so exclusive bounds hold too.
            return low + (high - low) * (spread % 99 + 1) / 100 if high > low else low
        if low is not None:
            return low + spread + (1 if low_open else 0) + 0.5
        if high is not None:
            return high - spread - (1 if high_open else 0) - 0.5
        return spread + 0.25

    def _multiple(self, schema: dict[str, Any], path: str, step: float) -> float | int:
        low, high, low_open, high_open = _bounds(schema)
        spread = self._number_from(path) % 10
        if low is not None:
            first = math.ceil(low / step)
        elif high is not None:
            first = math.floor(high / step) - spread
        else:
            first = spread
        for k in range(first, first + 1000):
            value = k * step
            if low is not None and (value < low or (low_open and value == low)):
                continue
            if high is not None and (value > high or (high_open and value == high)):
                break
            # jsonschema checks a float multipleOf by `int(v / step) == v / step`.
            if isinstance(step, int) or float(value / step).is_integer():
                return value
        # Unsatisfiable (or beyond this search): any number beats no answer.
        return low if low is not None else high if high is not None else 0


_FORMATS: Final = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "fake-{h}@example.com",
    "uri": "https://example.com/{h}",
    "url": "https://example.com/{h}",
    "hostname": "fake-{h}.example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}


def _int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _merge_schemas(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge two schemas for ``allOf``/``anyOf``: properties and required lists are joined."""
    merged = {**base, **extra}
    base_props, extra_props = base.get("properties"), extra.get("properties")
    if isinstance(base_props, dict) and isinstance(extra_props, dict):
        merged["properties"] = {**base_props, **extra_props}
    base_req, extra_req = base.get("required"), extra.get("required")
    if isinstance(base_req, list) and isinstance(extra_req, list):
        merged["required"] = list(dict.fromkeys([*base_req, *extra_req]))
    return merged


def _schema_type(schema: dict[str, Any], *, prefer_null: bool) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        if prefer_null and "null" in kind:
            return "null"
        concrete = [k for k in kind if k != "null"]
        return str(concrete[0]) if concrete else "null"
    if isinstance(kind, str):
        return kind
    # No `type`: infer from the keywords present; anything else accepts a string.
    if any(k in schema for k in ("properties", "required", "additionalProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    return "string"


def _bounds(schema: dict[str, Any]) -> tuple[float | None, float | None, bool, bool]:
    """Return (low, high, low is exclusive, high is exclusive) for a numeric schema."""

    def number(value: Any) -> float | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return value if ok else None

    low, high = number(schema.get("minimum")), number(schema.get("maximum"))
    low_open = high_open = False
    exclusive_low, exclusive_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    # Draft 4 spells exclusive bounds as booleans beside minimum/maximum.
    if exclusive_low is True:
        low_open = low is not None
    elif (value := number(exclusive_low)) is not None and (low is None or value >= low):
        low, low_open = value, True
    if exclusive_high is True:
        high_open = high is not None
    elif (value := number(exclusive_high)) is not None and (high is None or value <= high):
        high, high_open = value, True
    return low, high, low_open, high_open


def _error(
    status: int, message: str, kind: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An OpenAI-style error response."""
    payload = {"error": {"message": message, "type": kind, "param": None, "code": status}}
    return web.Response(
        status=status, body=orjson.dumps(payload), content_type=_JSON, headers=headers
    )


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
        return web.Response(body=orjson.dumps(payload), content_type=_JSON, headers=_OK_HEADERS)

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
            document = _SchemaFaker(chat.schema, chat.key).build()
        text = orjson.dumps(document).decode()
        return _break_json(text) if self._roll(config.invalid_json_rate) else text

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
