"""The pool's wire format: one JSON object per line, over pipes and socket pairs."""

from __future__ import annotations

import json
import os
from typing import Any


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line (``json.dumps`` escapes every newline inside strings)."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a blocking descriptor."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class LineReader:
    """Splits a byte stream read in arbitrary chunks into decoded messages."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Add ``chunk``; returns the messages it completed."""
        self._buffer += chunk
        messages = []
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if line.strip():
                messages.append(json.loads(line))
        return messages


__all__ = ["LineReader", "encode", "write_all"]
