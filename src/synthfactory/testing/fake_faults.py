"""Broken answers, as a real endpoint (or a proxy in front of one) gives them: a body cut
off short of its ``Content-Length``, a connection reset in the middle of an answer, and a
200 whose JSON is not a chat completion.

Each writes to the client's connection itself; the handler then returns the prepared
response, which aiohttp does not send again.
"""

from __future__ import annotations

import socket
import struct
from typing import Final

from aiohttp import web

from .fake_answers import JSON_TYPE

#: What ``wrong_schema_rate`` answers with, in turn: well-formed JSON that is not an OpenAI
#: chat completion. The completions API's shape, no choices, another API's shape, not an
#: object, content that is not text, a message without content, usage that is not a count.
WRONG_SCHEMA_BODIES: Final[tuple[bytes, ...]] = (
    b'{"object":"text_completion","choices":[{"index":0,"text":"fake","finish_reason":"stop"}]}',
    b'{"object":"chat.completion","choices":[]}',
    b'{"result":{"output":"fake"}}',
    b'[{"message":{"role":"assistant","content":"fake"}}]',
    b'{"choices":[{"index":0,"message":{"role":"assistant","content":42}}]}',
    b'{"choices":[{"index":0,"message":{"role":"assistant"},"finish_reason":"stop"}]}',
    b'{"choices":[{"index":0,"message":{"role":"assistant","content":"{}"}}],'
    b'"usage":{"prompt_tokens":"many","completion_tokens":null}}',
)


def wrong_schema(number: int) -> web.Response:
    """A 200 answer whose body is the ``number``-th of :data:`WRONG_SCHEMA_BODIES` (cycling)."""
    body = WRONG_SCHEMA_BODIES[number % len(WRONG_SCHEMA_BODIES)]
    return web.Response(body=body, content_type=JSON_TYPE)


async def _send_half(request: web.Request, body: bytes) -> web.StreamResponse:
    """Send the status line and headers promising all of ``body``, then its first half."""
    response = web.StreamResponse(status=200)
    response.content_type = JSON_TYPE
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    return response


async def truncated(request: web.Request, body: bytes) -> web.StreamResponse:
    """Answer with the first half of ``body`` under a ``Content-Length`` for all of it, then
    close the connection (a FIN: the client sees the body end early)."""
    response = await _send_half(request, body)
    if request.transport is not None:
        request.transport.close()
    return response


async def reset(request: web.Request, body: bytes) -> web.StreamResponse:
    """Start answering with ``body``, then reset the connection (a TCP RST, from closing
    with ``SO_LINGER`` zero) halfway through it."""
    response = await _send_half(request, body)
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return response


__all__ = ["WRONG_SCHEMA_BODIES", "reset", "truncated", "wrong_schema"]
