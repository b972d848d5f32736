"""The durability boundary of a run: the cache, the audit log, the ledger, then the dataset.

Exactly once into the dataset: a commit appends rows to the table atomically, then marks
them stored in the ledger. A crash between the two is repaired on resume by
:meth:`Committer.reconcile`, which asks the table which "passed" items it already holds.
Before any row is written, the model calls, states and provenance records behind it are
durable and the log is signed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from synthfactory.cache import ResponseCache
from synthfactory.errors import DiskFullError
from synthfactory.ledger import ItemRecord, Ledger, RunRecord
from synthfactory.recipe.model import Recipe
from synthfactory.runtime.audit import AuditRecorder
from synthfactory.runtime.config import RunConfig
from synthfactory.runtime.disk_full import disk_full_error
from synthfactory.runtime.heap import HeapTrimmer
from synthfactory.runtime.tally import Tally
from synthfactory.store import DatasetStore


class Committer:
    """Makes a run's state durable and writes its passed items to the dataset in batches."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        cache: ResponseCache,
        store: DatasetStore,
        audit: AuditRecorder | None,
        run: RunRecord,
        recipe: Recipe,
        config: RunConfig,
        tally: Tally,
    ) -> None:
        self.ledger = ledger
        self.cache = cache
        self.store = store
        self.audit = audit
        self.run = run
        self.recipe = recipe
        self.config = config
        self.tally = tally
        self.pending: list[ItemRecord] = []
        self.last_version: int | None = None
        self._last_commit = time.monotonic()
        self._commit_lock = asyncio.Lock()
        self._audit_lock = asyncio.Lock()
        self._heap = HeapTrimmer()
        self._failed: Exception | None = None

    def add(self, item: ItemRecord) -> bool:
        """Queue a passed item; True once a full batch waits."""
        self.pending.append(item)
        return len(self.pending) >= self.config.commit_rows

    def due(self) -> bool:
        """A batch is full, or the oldest queued row has waited long enough."""
        return bool(self.pending) and (
            len(self.pending) >= self.config.commit_rows
            or time.monotonic() - self._last_commit >= self.config.commit_interval_s
        )

    async def make_durable(self, *, checkpoint: bool = False) -> None:
        """Commit the cache, the provenance log and the ledger, in an order that keeps the
        ledger from ever claiming a step whose provenance record could still be lost."""
        self.cache.flush()
        if self.audit is None:
            self.ledger.flush()
            return
        async with self._audit_lock:
            batch = self.audit.take()
            mark = self.ledger.mark()
            write = self.audit.checkpoint if checkpoint else self.audit.write
            try:
                await asyncio.to_thread(write, batch)
            except BaseException:
                self._forget_unaudited()
                raise
            self.ledger.flush(upto=mark)

    def _forget_unaudited(self) -> None:
        # The audit records of the buffered steps are lost (a full disk, say): so must be
        # the ledger's claim to those steps, or a resume would skip steps the log never saw.
        # They are redone, from the cache: nothing is paid twice, and no row was written
        # (rows follow a good write).
        if self.audit is not None and self.audit.broken is not None:
            self.ledger.discard_pending()

    async def commit(self, *, force: bool = False) -> None:
        """Write one batch of queued rows (every queued row with ``force``)."""
        async with self._commit_lock:
            while self.pending:
                if self._failed is not None:
                    # The run stops on a failed commit; one that queued behind it on the
                    # lock must not go on writing as if nothing happened.
                    raise self._failed
                batch = self.pending[: self.config.commit_rows]
                # The rows' model calls, states and provenance must be durable (and the log
                # signed) before the rows are.
                await self.make_durable(checkpoint=True)
                rows = [self.row(item) for item in batch]
                try:
                    version = await asyncio.to_thread(self._append, rows)
                except Exception as err:
                    full = disk_full_error(err, f"the dataset {self.run.dataset!r}")
                    self._failed = full or err
                    if full is None:
                        raise
                    raise full from None
                self.ledger.mark_stored(
                    self.run.run_id, self.run.dataset, [i.item_id for i in batch], version
                )
                # Off the queue only once stored: a commit that fails keeps its rows queued
                # (and "passed" in the ledger) for the next commit or the resume.
                self.pending = self.pending[len(batch) :]
                self.last_version = version
                self.tally.passed -= len(batch)
                self.tally.stored += len(batch)
                self._last_commit = time.monotonic()
                if not force:
                    break

    def _append(self, rows: list[dict[str, Any]]) -> int:
        version = self.store.append(rows)
        # Off the event loop, once a commit's garbage is freed: see runtime/heap.py.
        self._heap.maybe_trim()
        return version

    def finish(self) -> DiskFullError | None:
        """At the end of a run, however it ended: sign the audit log, make the cache and the
        ledger durable. A full disk is returned (the run stops on it), not raised: the run's
        status must still be told."""
        problem = None
        try:
            if self.audit is not None and self.audit.broken is None:
                self.audit.checkpoint(self.audit.take())
        except Exception as err:
            problem = disk_full_error(err, "the audit log")
            if problem is None:
                raise
        self._forget_unaudited()
        try:
            self.cache.flush()
            self.ledger.flush()
        except Exception as err:
            problem = problem or disk_full_error(err, "the workspace's ledger or cache")
            if problem is None:
                raise
        return problem

    def row(self, item: ItemRecord) -> dict[str, Any]:
        """The dataset row of an item: its id, its run, and the recipe's dataset fields."""
        fields = (
            self.recipe.dataset.fields
            if self.recipe.dataset and self.recipe.dataset.fields
            else tuple(item.payload)
        )
        row: dict[str, Any] = {"item_id": item.item_id, "run_id": item.run_id}
        for name in fields:
            row[name] = item.payload.get(name)
        return row

    async def reconcile(self) -> None:
        """On (re)start: mark "passed" items the table already holds as stored, and queue
        the others."""
        passed = self.ledger.items(self.run.run_id, ["passed"])
        if not passed:
            return
        present = await asyncio.to_thread(self.store.present, [i.item_id for i in passed])
        if present:
            version = self.store.version()
            assert version is not None
            self.ledger.mark_stored(self.run.run_id, self.run.dataset, sorted(present), version)
            self.ledger.flush()
            self.tally.passed -= len(present)
            self.tally.stored += len(present)
        self.pending.extend(i for i in passed if i.item_id not in present)


__all__ = ["Committer"]
