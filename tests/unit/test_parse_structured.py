"""Answers checked against their JSON schema: the compiled fast path agrees with jsonschema."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthfactory.examples.hello import FACT_SCHEMA
from synthfactory.runtime.model_calls import parse_structured

SCHEMAS: list[dict[str, Any]] = [
    FACT_SCHEMA,
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]},
    {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}, "maxItems": 3},
    {"type": "string", "format": "email"},  # format is an annotation only, in both
    {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMaximum": 10}]},
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-20, 20) | st.floats(-20, 20) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(schema=st.sampled_from(SCHEMAS), value=json_values)
def test_the_fast_path_agrees_with_jsonschema(schema: dict[str, Any], value: Any) -> None:
    expected = jsonschema.Draft202012Validator(schema).is_valid(value)
    parsed, why = parse_structured(orjson.dumps(value).decode(), schema)
    assert (why is None) == expected, (schema, value, why)
    if why is None:
        assert parsed == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"fact": "ok fact here"}', "answer does not match the schema at (root)"),
        ('{"fact": 3, "confidence": "high"}', "at fact: 3 is not of type 'string'"),
        ('{"fact": "x"', "invalid JSON"),
    ],
)
def test_a_failure_is_worded_by_jsonschema(text: str, reason: str) -> None:
    parsed, why = parse_structured(text, FACT_SCHEMA)
    assert parsed is None
    assert why is not None and reason in why
