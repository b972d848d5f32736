"""The model-call protocol and the request/response types every backend shares."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson


@dataclass(frozen=True)
class ChatRequest:
    """A fully rendered chat-completion request: everything that decides the answer.

    Its :meth:`key` is the content address used by the cache. It holds no endpoint URL and
    no credentials: the same model asked the same thing is the same call wherever it is
    served, and secrets never reach the cache.
    """

    model: str
    messages: tuple[dict[str, str], ...]
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    response_format: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        """The OpenAI-compatible JSON body."""
        body: dict[str, Any] = {"model": self.model, "messages": list(self.messages), **self.params}
        if self.seed is not None:
            body["seed"] = self.seed
        if self.response_format is not None:
            body["response_format"] = self.response_format
        return body

    def key(self) -> str:
        """sha256 of the canonical request: the cache key (worked out once per request:
        the cache, the ledger and the audit record each ask for it)."""
        found: str | None = self.__dict__.get("_key")
        if found is None:
            found = self._digest()
            object.__setattr__(self, "_key", found)
        return found

    def _digest(self) -> str:
        blob = orjson.dumps(
            {
                "model": self.model,
                "messages": list(self.messages),
                "params": self.params,
                "seed": self.seed,
                "response_format": self.response_format,
            },
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class ChatResponse:
    """What came back: the text, the model id as served, token usage."""

    content: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    latency_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, as stored in the cache."""
        return {
            "content": self.content,
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "finish_reason": self.finish_reason,
            "latency_s": self.latency_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatResponse:
        """Inverse of :meth:`to_dict`."""
        return cls(
            content=data["content"],
            model=data["model"],
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
            finish_reason=data.get("finish_reason"),
            latency_s=float(data.get("latency_s") or 0.0),
        )


class ModelClient(Protocol):
    """Sends one chat request to one endpoint, with that endpoint's retry and rate policy.

    Raises :class:`~synthfactory.errors.ModelCallError` subclasses; never returns ``None``.
    """

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Send ``request`` and return the answer."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
