"""What the fake server understands and says: chat requests parsed and keyed, chat
completions and OpenAI-style errors built, and fake embeddings.

Answers are deterministic: a completion's content depends only on the request key (see
:func:`request_key`) and the scripts; JSON-mode answers come from
:mod:`synthfactory.testing.fake_json`.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiohttp import web

from .fake_json import break_json, fake_json_for_schema

_KEY_FIELDS: Final = ("messages", "seed", "model", "response_format")
JSON_TYPE: Final = "application/json"
#: Vector length of fake embeddings unless the request asks for ``dimensions``.
FAKE_EMBEDDING_DIM: Final = 256
_WORD: Final = re.compile(r"\w+")


def request_key(body: Mapping[str, Any]) -> str:
    """Return the request key of a chat-completions request body.

    The key is the SHA-256 hex digest of the orjson dump, with sorted keys, of the body
    restricted to the fields present among ``messages``, ``seed``, ``model`` and
    ``response_format``; other fields (temperature, max_tokens, ...) do not change it.
    """
    subset = {name: body[name] for name in _KEY_FIELDS if name in body}
    return hashlib.sha256(orjson.dumps(subset, option=orjson.OPT_SORT_KEYS)).hexdigest()


def fake_embedding(text: str, dim: int = FAKE_EMBEDDING_DIM) -> list[float]:
    """The fake server's embedding of ``text``: each distinct lower-cased word adds +-1 to a
    bucket chosen by its BLAKE2b hash; the sum is L2-normalized (an empty text gives bucket
    0). Distinct words, not counts, so that repeated function words do not make every text
    look alike."""
    vector = [0.0] * dim
    for word in sorted(set(_WORD.findall(text.lower()))):
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        vector[(digest >> 1) % dim] += 1.0 if digest & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0.0:
        vector[0], norm = 1.0, 1.0
    return [value / norm for value in vector]


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def text_of(content: Any) -> str:
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


class BadRequestError(ValueError):
    """A chat request the fake refuses with 400; the message is shown to the client."""


@dataclass(frozen=True)
class ChatRequest:
    """A parsed, well-formed chat-completions request."""

    body: dict[str, Any]
    key: str
    json_mode: bool
    schema: dict[str, Any] | None


def parse_chat(raw: bytes) -> ChatRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequestError("request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("'messages' must be a non-empty array")
    if not all(isinstance(message, dict) for message in messages):
        raise BadRequestError("every element of 'messages' must be an object")
    if body.get("stream") is True:
        raise BadRequestError("the fake server does not support stream=true")
    json_mode, schema = _parse_response_format(body.get("response_format"))
    return ChatRequest(body=body, key=request_key(body), json_mode=json_mode, schema=schema)


def _parse_response_format(response_format: Any) -> tuple[bool, dict[str, Any] | None]:
    """Return (is JSON mode, schema or None) for a ``response_format`` value."""
    if response_format is None:
        return False, None
    if not isinstance(response_format, dict):
        raise BadRequestError("'response_format' must be an object")
    kind = response_format.get("type")
    if kind == "text":
        return False, None
    if kind == "json_object":
        schema = response_format.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise BadRequestError("'response_format.schema' must be an object")
        return True, schema
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise BadRequestError("'response_format.json_schema.schema' must be an object")
        return True, schema
    raise BadRequestError(f"unsupported response_format type {kind!r}")


def error_response(
    status: int, message: str, kind: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An OpenAI-style error response."""
    payload = {"error": {"message": message, "type": kind, "param": None, "code": status}}
    return web.Response(
        status=status, body=orjson.dumps(payload), content_type=JSON_TYPE, headers=headers
    )


def chat_content(
    chat: ChatRequest, scripts: Sequence[tuple[str, str]], break_it: Callable[[], bool]
) -> str:
    """The text of the answer to ``chat``: the first script whose regex is found in the last
    user message, else ``fake answer KEY``, or in JSON mode a document for the request's
    schema (cut short, unparseable, when ``break_it()`` says so)."""
    messages = chat.body["messages"]
    if scripts:
        last_user = next(
            (text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        for pattern, text in scripts:
            if re.search(pattern, last_user):
                return text
    plain = f"fake answer {chat.key[:12]}"
    if not chat.json_mode:
        return plain
    if chat.schema is None:
        document: Any = {"answer": plain}
    else:
        document = fake_json_for_schema(chat.schema, chat.key)
    text = orjson.dumps(document).decode()
    return break_json(text) if break_it() else text


def chat_completion(chat: ChatRequest, content: str, *, model: str, number: int) -> dict[str, Any]:
    """The OpenAI chat-completion object answering ``chat`` with ``content``; ``number`` (the
    server's count of answers) makes its id unique."""
    prompt = "".join(text_of(m.get("content")) for m in chat.body["messages"])
    prompt_tokens = estimate_tokens(prompt)
    completion_tokens = estimate_tokens(content)
    return {
        "id": f"chatcmpl-fake{number:08x}{chat.key[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
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


__all__ = [
    "FAKE_EMBEDDING_DIM",
    "JSON_TYPE",
    "BadRequestError",
    "ChatRequest",
    "chat_completion",
    "chat_content",
    "error_response",
    "estimate_tokens",
    "fake_embedding",
    "parse_chat",
    "request_key",
    "text_of",
]
