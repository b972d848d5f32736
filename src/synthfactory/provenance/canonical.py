"""Canonical JSON: the exact bytes a record's leaf hash is taken over.

The encoding (``orjson`` with sorted keys) is:

- UTF-8, no insignificant whitespace, object keys sorted by code point (which is also UTF-8
  byte order); keys must be strings.
- Strings escaped as orjson does: only ``"``, ``\\`` and control characters; everything else
  is written as raw UTF-8.
- Integers in decimal, within the signed/unsigned 64-bit range (orjson refuses wider ones).
- Floats as the shortest decimal that round-trips to the same IEEE-754 double (orjson's ryu):
  ``0.1``, ``2.0``, ``1e-7``, ``1e+21``, ``-0.0``. An integral float keeps its ``.0``, so the
  float ``2.0`` and the integer ``2`` are different values with different bytes. NaN and
  infinities have no JSON form (orjson would silently write ``null``) and are refused.
- Tuples become arrays; any ``Mapping`` becomes an object.

This is close to, but deliberately not, RFC 8785 (JCS formats ``2.0`` as ``2``); what matters
is that :func:`canonical_json` is a pure function of the value and that re-encoding what it
produced gives the same bytes, which :func:`is_canonical` checks.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import orjson

JSONValue = Any
"""A JSON-ready value: None, bool, int, float, str, list/tuple and str-keyed mappings."""

_OPTIONS = orjson.OPT_SORT_KEYS


def normalize(value: Any, path: str = "$") -> JSONValue:
    """``value`` as plain dicts and lists, refusing what has no canonical JSON form.

    Raises :class:`ValueError` naming the JSONPath-like ``path`` of the offending value.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value!r} has no JSON form; record it as a string")
        return value
    if isinstance(value, Mapping):
        out: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: object key {key!r} is not a string")
            out[key] = normalize(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [normalize(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise ValueError(f"{path}: {type(value).__name__} is not JSON (digest it instead)")


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes of ``value`` (see the module docstring)."""
    return orjson.dumps(normalize(value), option=_OPTIONS)


def dumps_normalized(value: JSONValue) -> bytes:
    """Canonical bytes of a value already passed through :func:`normalize` (the fast path)."""
    return orjson.dumps(value, option=_OPTIONS)


def is_canonical(data: bytes) -> bool:
    """True when ``data`` is JSON and re-encoding it canonically gives the very same bytes."""
    try:
        return dumps_normalized(orjson.loads(data)) == data
    except (orjson.JSONDecodeError, TypeError):
        return False


def digest(content: bytes | str | Any) -> str:
    """``sha256:<hex>`` of content: bytes as is, text as UTF-8, anything else canonically.

    Records hold these digests instead of content, so deleting the content later (an
    erasure request) leaves every proof valid while the content, if kept, still matches.
    """
    if isinstance(content, str):
        content = content.encode()
    elif not isinstance(content, bytes | bytearray | memoryview):
        content = canonical_json(content)
    return "sha256:" + hashlib.sha256(content).hexdigest()


__all__ = ["JSONValue", "canonical_json", "digest", "dumps_normalized", "is_canonical", "normalize"]
