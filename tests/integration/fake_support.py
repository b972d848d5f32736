"""Helpers for the fake server's tests: a chat request, and reading its answer."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from synthfactory.testing import FakeServer

USER_HI = [{"role": "user", "content": "hi"}]


async def chat(
    session: aiohttp.ClientSession, server: FakeServer, body: dict[str, Any]
) -> tuple[int, Any, dict[str, Any]]:
    """POST a chat request; return (status, headers, parsed JSON body)."""
    async with session.post(f"{server.url}/chat/completions", json=body) as response:
        return response.status, response.headers, orjson.loads(await response.read())


def content_of(answer: dict[str, Any]) -> str:
    content = answer["choices"][0]["message"]["content"]
    assert isinstance(content, str)
    return content


def is_chat_completion(answer: Any) -> bool:
    """The shape a client reads: text at choices[0].message.content, whole-number usage."""
    try:
        content = answer["choices"][0]["message"]["content"]
        usage = answer.get("usage", {})
    except (KeyError, IndexError, TypeError, AttributeError):
        return False
    counts = [usage.get(name, 0) for name in ("prompt_tokens", "completion_tokens")]
    return isinstance(content, str) and all(type(count) is int for count in counts)


def schema_body(schema: dict[str, Any], text: str = "hi") -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": text}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "strict": True, "schema": schema},
        },
    }


# A schema of enums and a const: its every answer is known in advance.
ENUM = {
    "type": "object",
    "properties": {
        "label": {"enum": ["yes", "no", "maybe"]},
        "kind": {"const": "review"},
        "score": {"type": "string", "enum": ["a", "b"]},
    },
    "required": ["label", "kind", "score"],
}
