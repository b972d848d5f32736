"""A run's dedup steps: their gates, filled from what is stored, and what they decide.

The driver asks :meth:`DedupSteps.verdict` for an item at a dedup step and records the
answer like any other step's; this module owns the indexes (one :class:`DedupGate` per step,
seeded with the dataset's rows and this run's items past the step), the embedders that
semantic dedup needs, forgetting items rejected later, and noticing a model that keeps
repeating itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from synthfactory.errors import NotFoundError, SynthFactoryError
from synthfactory.ledger import ItemRecord, Ledger
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.recipe.model import DedupStep, Recipe
from synthfactory.runtime.dedup_gate import (
    DedupGate,
    build_index,
    dedup_text,
    embedder_for,
    stored_texts,
)
from synthfactory.runtime.steering import Steering
from synthfactory.store import DatasetStore
from synthfactory.verdict import Verdict
from synthfactory.workspace import Workspace

log = logging.getLogger(__name__)


class DedupSteps:
    """The dedup steps of one run of ``recipe``."""

    def __init__(
        self,
        *,
        recipe: Recipe,
        run_id: str,
        workspace: Workspace,
        ledger: Ledger,
        store: DatasetStore,
        endpoints: Mapping[str, EndpointConfig],
        steering: Steering | None,
    ) -> None:
        self._recipe = recipe
        self._run_id = run_id
        self._workspace = workspace
        self._ledger = ledger
        self._store = store
        self._endpoints = endpoints
        self._steering = steering
        self._gates: dict[str, DedupGate] = {}
        self._closing: list[Callable[[], Any]] = []
        #: Why admission should stop (the model keeps repeating itself), once it should.
        self.dry: str | None = None

    async def open(self, active: list[ItemRecord]) -> None:
        """Build each step's index and fill it with what is already stored (every run's
        rows in the dataset) and this run's items past the step but not stored."""
        steps = self._recipe.dedup_steps
        if not steps:
            return
        # Only the columns the steps compare: a large dataset's other fields stay on disk.
        columns = ["item_id", *{s.field.split(".")[0] for s in steps}]
        try:
            table = await asyncio.to_thread(self._store.read, columns=columns)
            rows = table.to_pylist()
        except NotFoundError:
            rows = []
        passed = self._ledger.items(self._run_id, ["passed"])
        for step in steps:
            position = self._recipe.steps.index(step)
            # Scratch space for a semantic index that outgrows memory; rebuilt every start.
            workdir = self._workspace.root / "dedup" / self._run_id / step.name
            index = await asyncio.to_thread(build_index, step, self._embedder(step), workdir)
            gate = DedupGate(step, index, blocking=step.method == "semantic")
            keys, texts = stored_texts(rows, step.field)
            stored_ids = set(keys)
            for item in sorted([*passed, *active], key=lambda i: i.index):
                if item.item_id in stored_ids or item.next_step <= position:
                    continue
                text = dedup_text(item.payload, step.field)
                if text is not None:
                    keys.append(item.item_id)
                    texts.append(text)
            await asyncio.to_thread(gate.seed, keys, texts)
            self._gates[step.name] = gate

    async def verdict(self, item: ItemRecord, step: DedupStep) -> Verdict | None:
        """Pass (the item is new, and now remembered) or fail (naming what it repeats);
        None when the item has no such field."""
        text = dedup_text(item.payload, step.field)
        if text is None:
            return None
        gate = self._gates[step.name]
        try:
            duplicate = await gate.check(item.item_id, text)
        except Exception as err:
            raise SynthFactoryError(f"dedup step {step.name!r} failed: {err}") from err
        if duplicate is None:
            if self._steering is not None:
                self._steering.fresh(item.payload)
            return Verdict("pass", "", step.tier, {"method": step.method})
        self._note_repeat(item, step, gate)
        return Verdict(
            "fail",
            f"duplicate of {duplicate.of} ({duplicate.method}, similarity "
            f"{duplicate.similarity:.3f})",
            step.tier,
            {
                "duplicate_of": duplicate.of,
                "method": duplicate.method,
                "similarity": round(duplicate.similarity, 6),
            },
        )

    def forget(self, item: ItemRecord) -> None:
        """The steps the item passed forget it (it was rejected or failed later): what was
        never stored blocks nothing."""
        for step in self._recipe.steps[: item.next_step]:
            if isinstance(step, DedupStep) and step.name in self._gates:
                self._gates[step.name].forget(item.item_id)

    def close(self) -> None:
        """Close what the steps opened (the embedding caches)."""
        for close in self._closing:
            close()
        self._closing.clear()

    def _note_repeat(self, item: ItemRecord, step: DedupStep, gate: DedupGate) -> None:
        """Count a duplicate towards giving up: on its category, or on the whole run."""
        if self._steering is not None:
            message = self._steering.repeat(item.payload, step.patience)
            if message is not None:
                log.warning("%s", message)
            return
        if gate.repeats >= step.patience and self.dry is None:
            self.dry = (
                f"the model keeps repeating itself: the last {step.patience} items step "
                f"{step.name!r} checked were all duplicates"
            )
            log.warning("%s; no new items will be started", self.dry)

    def _embedder(self, step: DedupStep) -> Any:
        if step.method != "semantic":
            return None
        from synthfactory.dedup.embedding_cache import CachedEmbedder

        # Every start seeds the index with every stored row: through the workspace's
        # embedding cache, so a resume or a later run embeds (and pays for) only new text.
        cached = CachedEmbedder(
            embedder_for(self._endpoints[step.embedder]),
            self._workspace.root / "embeddings.sqlite",
        )
        self._closing.append(cached.close)
        return cached


__all__ = ["DedupSteps"]
