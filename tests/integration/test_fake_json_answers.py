"""The fake server's JSON answers: fitting the request's schema, or broken on purpose."""

from __future__ import annotations

from typing import Any

import aiohttp
import jsonschema
import orjson
import pytest

from synthfactory.testing import FakeServer
from tests.integration.fake_support import (
    ENUM,
    USER_HI,
    chat,
    content_of,
    is_chat_completion,
    schema_body,
)

NESTED_OBJECT = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 30, "maxLength": 40},
        "author": {
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 5}, "age": {"type": "integer"}},
            "required": ["name"],
            "additionalProperties": False,
        },
        "draft": {"type": "boolean"},
    },
    "required": ["title", "author"],
    "additionalProperties": False,
}
ARRAY = {
    "type": "array",
    "minItems": 3,
    "maxItems": 4,
    "uniqueItems": True,
    "items": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
}
UNIQUE_SMALL_RANGE = {
    "type": "array",
    "minItems": 4,
    "uniqueItems": True,
    "items": {"type": "integer", "minimum": 0, "maximum": 3},
}
NUMBER_BOUNDS = {
    "type": "object",
    "properties": {
        "small": {"type": "integer", "minimum": 3, "maximum": 5},
        "above": {"type": "integer", "exclusiveMinimum": 100},
        "below": {"type": "integer", "maximum": -50},
        "even": {"type": "integer", "minimum": 7, "maximum": 9, "multipleOf": 2},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001},
        "step": {"type": "number", "minimum": 0.35, "multipleOf": 0.1},
    },
    "required": ["small", "above", "below", "even", "ratio", "step"],
}
PYDANTIC_STYLE = {
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
            },
            "required": ["name", "children"],
        },
        "Cat": {"type": "object", "properties": {"pet": {"const": "cat"}}, "required": ["pet"]},
        "Dog": {"type": "object", "properties": {"pet": {"const": "dog"}}, "required": ["pet"]},
    },
    "type": "object",
    "properties": {
        "tree": {"$ref": "#/$defs/Node"},
        "pet": {"oneOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]},
        "note": {"type": ["string", "null"], "format": "date-time"},
        "tags": {"type": "array", "prefixItems": [{"type": "integer"}], "items": False},
        "both": {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}]},
    },
    "required": ["tree", "pet", "note", "tags", "both"],
}


@pytest.mark.parametrize(
    "schema",
    [NESTED_OBJECT, ARRAY, UNIQUE_SMALL_RANGE, ENUM, NUMBER_BOUNDS, PYDANTIC_STYLE],
    ids=["nested-object", "array", "unique-items", "enum", "number-bounds", "refs-combinators"],
)
async def test_json_schema_answer_validates(
    server: FakeServer, session: aiohttp.ClientSession, schema: dict[str, Any]
) -> None:
    status, _, answer = await chat(session, server, schema_body(schema))

    assert status == 200
    document = orjson.loads(content_of(answer))
    jsonschema.Draft202012Validator(schema).validate(document)


async def test_json_schema_answer_fills_optional_fields_and_varies(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    _, _, first = await chat(session, server, schema_body(NESTED_OBJECT, "one"))
    _, _, same = await chat(session, server, schema_body(NESTED_OBJECT, "one"))
    _, _, other = await chat(session, server, schema_body(NESTED_OBJECT, "two"))

    document = orjson.loads(content_of(first))
    assert set(document) == {"title", "author", "draft"}
    assert set(document["author"]) == {"name", "age"}
    assert content_of(same) == content_of(first)
    assert orjson.loads(content_of(other))["title"] != document["title"]


async def test_json_object_mode_answers_a_json_object(
    server: FakeServer, session: aiohttp.ClientSession
) -> None:
    body = {"messages": USER_HI, "response_format": {"type": "json_object"}}
    with_schema = {
        "messages": USER_HI,
        "response_format": {"type": "json_object", "schema": ENUM},
    }
    _, _, plain = await chat(session, server, body)
    _, _, schematic = await chat(session, server, with_schema)

    assert isinstance(orjson.loads(content_of(plain)), dict)
    jsonschema.Draft202012Validator(ENUM).validate(orjson.loads(content_of(schematic)))


@pytest.mark.parametrize("schema", [NESTED_OBJECT, {"type": "integer", "minimum": 10}])
async def test_invalid_json_rate_answers_broken_json(
    server: FakeServer, session: aiohttp.ClientSession, schema: dict[str, Any]
) -> None:
    server.config.invalid_json_rate = 1.0
    status, _, answer = await chat(session, server, schema_body(schema))
    _, _, plain = await chat(session, server, {"messages": USER_HI})

    assert status == 200 and is_chat_completion(answer)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(content_of(answer))
    assert content_of(plain).startswith("fake answer ")
