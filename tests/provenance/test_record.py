"""Records: canonical encoding, digests instead of content, and the secret guard."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from synthfactory.errors import UserInputError
from synthfactory.provenance import (
    NoteSigner,
    ProvenanceRecord,
    SecretGuard,
    SecretInRecordError,
    SqliteAuditLog,
    canonical_json,
    digest,
    is_canonical,
)

from .conftest import ORIGIN

Factory = Callable[..., ProvenanceRecord]


def test_canonical_json_sorts_keys_and_keeps_float_forms() -> None:
    assert canonical_json({"b": 1, "a": [2.0, 0.1, 1e-7, 2]}) == b'{"a":[2.0,0.1,1e-7,2],"b":1}'
    assert canonical_json({"é": "ü"}) == '{"é":"ü"}'.encode()
    assert is_canonical(b'{"a":1,"b":2}')
    assert not is_canonical(b'{"b":2,"a":1}')
    assert not is_canonical(b'{"a": 1}')
    assert not is_canonical(b"not json")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_canonical_json_refuses_non_finite_floats(bad: float) -> None:
    with pytest.raises(ValueError, match=r"\$\.x"):
        canonical_json({"x": bad})


def test_canonical_json_refuses_non_json() -> None:
    with pytest.raises(ValueError, match="not a string"):
        canonical_json({1: "a"})
    with pytest.raises(ValueError, match="bytes is not JSON"):
        canonical_json({"a": b"raw"})


def test_record_round_trips(record_factory: Factory) -> None:
    record = record_factory(3)
    data = canonical_json(record.to_dict())
    assert is_canonical(data)
    assert ProvenanceRecord.from_dict(orjson.loads(data)) == record


def test_digest_fields_refuse_content(record_factory: Factory) -> None:
    with pytest.raises(ValueError, match="digest"):
        record_factory(1, response_digest="Hello, user 1!")
    assert digest("abc") == digest(b"abc")
    assert digest({"b": 1, "a": 2}) == digest(b'{"a":2,"b":1}')


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("error", "401 from server with key sk-proj-abcdefghijklmnop1234", "API key"),
        ("error", "sent Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload", "bearer"),
        ("extra", {"headers": {"Authorization": "token"}}, "named like a credential"),
        ("extra", {"api_key": "whatever"}, "named like a credential"),
        ("model", "https://user:hunter2@example.com/v1", "password"),
        ("worker", "AKIAABCDEFGHIJKLMNOP", "AWS"),
        ("extra", {"note": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "private key"),
    ],
)
def test_secret_guard_refuses_and_never_echoes(
    tmp_path: Path,
    signer: NoteSigner,
    record_factory: Factory,
    field: str,
    value: object,
    kind: str,
) -> None:
    log = SqliteAuditLog(tmp_path / "log.sqlite", signer, origin=ORIGIN)
    with pytest.raises(SecretInRecordError, match=kind) as info:
        log.append([record_factory(1, **{field: value})])
    assert isinstance(info.value, UserInputError)
    assert field in str(info.value)
    if isinstance(value, str):
        assert value not in str(info.value)
    assert log.size == 0  # nothing was queued
    log.close()


def test_secret_guard_catches_a_configured_key_of_any_shape(
    tmp_path: Path, signer: NoteSigner, record_factory: Factory
) -> None:
    key = "plain-looking-key-0123"
    log = SqliteAuditLog(tmp_path / "log.sqlite", signer, origin=ORIGIN, known_secrets=[key])
    with pytest.raises(SecretInRecordError, match="configured API key"):
        log.append([record_factory(1, extra={"note": f"called with {key}"})])
    log.append([record_factory(2)])  # an ordinary record still goes in
    log.close()
    assert key.encode() not in (tmp_path / "log.sqlite").read_bytes()


def test_secret_guard_lets_ordinary_records_through(record_factory: Factory) -> None:
    guard = SecretGuard()
    for i in range(20):
        guard.check(record_factory(i).to_dict())
    # words that merely resemble the patterns
    guard.check({"text": "the task-sk-1 asks", "tokens": 12, "authorization_mode": None})
