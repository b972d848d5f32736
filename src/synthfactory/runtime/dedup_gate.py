"""A dedup step as the run driver runs it: one index per step, fed in micro-batches.

The index must see every item of the dataset in one place, so it lives in the driver, not
on a worker. Items reaching the step while a batch is being checked wait for the next
one; a batch is checked in one call, so semantic dedup embeds many texts per request and
exact and MinHash dedup hash them together. Within a batch, earlier items win.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

# The protocol module alone: hashlib only, no numpy (the indexes load on first use).
from synthfactory.dedup.index import ForgettingIndex
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.recipe.model import DedupStep
from synthfactory.verify.checks import get_path

if TYPE_CHECKING:
    from synthfactory.dedup import DedupIndex, Duplicate, Embedder


def dedup_text(payload: Mapping[str, Any], path: str) -> str | None:
    """The text a dedup step compares: the field's string, or its canonical JSON."""
    try:
        value = get_path(payload, path)
    except KeyError:
        return None
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def row_text(row: Mapping[str, Any], path: str) -> str | None:
    """The text of a stored dataset row (nested fields may be stored as JSON strings)."""
    head, _, rest = path.partition(".")
    value = row.get(head)
    if rest and isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return dedup_text({head: value}, path)


#: ``--endpoint ROLE=local:minilm``: all-MiniLM-L6-v2 in process (the ``embed`` extra).
LOCAL_EMBEDDER = "local:minilm"


def embedder_for(endpoint: EndpointConfig) -> Embedder:
    """The embedder behind an endpoint: the local MiniLM model, or ``/v1/embeddings``."""
    from synthfactory.dedup.embedders import MiniLMEmbedder, OpenAIEmbedder

    if endpoint.origin == LOCAL_EMBEDDER:
        return MiniLMEmbedder()
    return OpenAIEmbedder(endpoint.url, endpoint.model or "default", endpoint.api_key)


def local_embedder_endpoint(role: str) -> EndpointConfig:
    """The endpoint config that stands for the in-process MiniLM embedder (no server: the
    URL is never called, and says so)."""
    return EndpointConfig(
        role=role,
        url="http://127.0.0.1/in-process-minilm",
        model="sentence-transformers/all-MiniLM-L6-v2",
        origin=LOCAL_EMBEDDER,
        license="Apache-2.0",
    )


def build_index(
    step: DedupStep, embedder: Embedder | None, workdir: Path | None = None
) -> DedupIndex:
    """The index for ``step`` (``embedder`` is needed for semantic dedup; past 1e5 vectors a
    semantic index moves its neighbours to a Lance table under ``workdir``)."""
    from synthfactory.dedup.corpus import make_index

    return make_index(
        step.method,
        None if step.method == "exact" else step.effective_threshold,
        num_perm=step.num_perm,
        shingle=step.shingle,
        embedder=embedder,
        workdir=workdir,
    )


class DedupGate:
    """Checks items against one index, batching those that arrive together."""

    def __init__(self, step: DedupStep, index: DedupIndex, *, blocking: bool) -> None:
        self.step = step
        self.index = index
        # Semantic dedup embeds (I/O or heavy CPU): off the event loop. Exact and MinHash
        # batches cost well under a millisecond per item: inline, no thread hop.
        self._blocking = blocking
        self._pending: list[tuple[str, str, asyncio.Future[Duplicate | None]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.repeats = 0  # consecutive duplicates, run-wide

    def seed(self, keys: Sequence[str], texts: Sequence[str]) -> None:
        """Add stored items (earlier runs, or this run's before a resume)."""
        if keys:
            self.index.check_add(list(keys), list(texts))

    def forget(self, key: str) -> bool:
        """Forget the item ``key`` passed with (it was rejected later), if the index can:
        exact and MinHash can; a semantic index keeps it (a later item like it is then
        turned away as its duplicate)."""
        return isinstance(self.index, ForgettingIndex) and self.index.discard(key)

    async def check(self, key: str, text: str) -> Duplicate | None:
        """The stored or earlier item ``text`` repeats, or None (and it is remembered)."""
        future: asyncio.Future[Duplicate | None] = asyncio.get_running_loop().create_future()
        self._pending.append((key, text, future))
        if self._drainer is None or self._drainer.done():
            # A task of its own, so one waiting item being cancelled cannot strand the rest.
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            await self._check_batch(batch)

    async def _check_batch(
        self, batch: list[tuple[str, str, asyncio.Future[Duplicate | None]]]
    ) -> None:
        keys = [k for k, _, _ in batch]
        texts = [t for _, t, _ in batch]
        try:
            if self._blocking:
                found = await asyncio.to_thread(self.index.check_add, keys, texts)
            else:
                found = self.index.check_add(keys, texts)
        except Exception as err:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        for (_, _, future), duplicate in zip(batch, found, strict=True):
            if duplicate is None:
                self.repeats = 0
            else:
                self.repeats += 1
            if not future.done():
                future.set_result(duplicate)


def stored_texts(rows: Iterable[Mapping[str, Any]], path: str) -> tuple[list[str], list[str]]:
    """(item ids, texts) of stored rows that have the field."""
    keys: list[str] = []
    texts: list[str] = []
    for row in rows:
        text = row_text(row, path)
        if text is not None:
            keys.append(str(row.get("item_id")))
            texts.append(text)
    return keys, texts


__all__ = [
    "LOCAL_EMBEDDER",
    "DedupGate",
    "build_index",
    "dedup_text",
    "embedder_for",
    "local_embedder_endpoint",
    "row_text",
    "stored_texts",
]
