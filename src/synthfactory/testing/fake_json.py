"""Fake JSON answers for JSON-mode requests, used by :mod:`synthfactory.testing.fake_server`.

:func:`fake_json_for_schema` builds one JSON value that validates against a JSON Schema,
deterministically from a seed string (the fake server passes the request key), so the same
request always gets the same answer and different requests get different ones.
:func:`break_json` turns a JSON text into one that does not parse.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from typing import Any, Final

import orjson

__all__ = ["SchemaError", "break_json", "fake_json_for_schema"]


class SchemaError(ValueError):
    """A schema the faker cannot follow: a non-local, dangling or endless ``$ref``."""


def fake_json_for_schema(schema: dict[str, Any], seed: str) -> Any:
    """Return a JSON value (dicts, lists, str, int, float, bool, None) valid against ``schema``.

    The value depends only on ``schema`` and ``seed``.  Supported: ``type`` (also lists such
    as ``["string", "null"]``), ``object`` (all properties; only required ones past a depth
    of 8), ``string`` (length bounds and a few formats), ``integer``/``number`` (bounds,
    exclusive bounds, ``multipleOf``), ``boolean``, ``null``, ``array`` (``items``,
    ``prefixItems``, item counts, ``uniqueItems``), ``enum``, ``const``, ``anyOf``/``oneOf``
    (first option), ``allOf`` (merged) and local ``$ref`` (``#/$defs/...``).  ``pattern``
    and ``not`` are ignored.  Raises :class:`SchemaError` if a ``$ref`` cannot be followed.
    """
    return _SchemaFaker(schema, seed).build()


def break_json(text: str) -> str:
    """Return ``text``, a JSON text, truncated (and if need be changed) so that it no longer
    parses; this is the answer of the fake server's ``invalid_json_rate`` knob."""
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

    See :func:`fake_json_for_schema` for the keywords supported.
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
                raise SchemaError("schema $ref chain does not end")
            target = self._pointer(schema["$ref"])
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings}
        return schema

    def _pointer(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"only local schema $ref are supported, got {ref!r}")
        node: Any = self._root
        for raw in ref[1:].split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"schema $ref {ref!r} does not resolve")
        if not isinstance(node, dict):
            raise SchemaError(f"schema $ref {ref!r} does not point to a schema")
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
        raise SchemaError("schema combinators and $ref nest too deeply")

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
