"""The ledger's tables and the records read from them (see :mod:`synthfactory.ledger`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import orjson

SCHEMA_VERSION = 1
ITEM_STATES = ("active", "passed", "stored", "rejected", "failed")

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    recipe_name TEXT NOT NULL,
    recipe_source TEXT NOT NULL,
    recipe_digest TEXT NOT NULL,
    recipe_version TEXT NOT NULL,
    dataset TEXT NOT NULL,
    config BLOB NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    active_s REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    state TEXT NOT NULL,
    next_step INTEGER NOT NULL DEFAULT 0,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    verdicts BLOB NOT NULL DEFAULT '[]',
    dataset_version INTEGER,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (run_id, idx)
);
CREATE INDEX IF NOT EXISTS items_by_run_state ON items (run_id, state);
CREATE TABLE IF NOT EXISTS attempts (
    item_id TEXT NOT NULL,
    step TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    role TEXT,
    model TEXT,
    request_key TEXT,
    cached INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (item_id, step, attempt)
);
CREATE TABLE IF NOT EXISTS canary_checks (
    canary_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    step TEXT NOT NULL,
    tier TEXT NOT NULL,
    bad INTEGER NOT NULL,
    source TEXT NOT NULL,
    label TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS canary_checks_by_run ON canary_checks (run_id);
CREATE TABLE IF NOT EXISTS commits (
    run_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    at REAL NOT NULL
);
"""


# Acceptance sampling: what a stronger verifier said of a stored item, after the run. One row
# per (run, item, verifier): asking the same verifier again replaces the row.
QA_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS qa_checks (
    run_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    verifier TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    details BLOB NOT NULL DEFAULT '{}',
    sample_seed INTEGER NOT NULL,
    checked_at REAL NOT NULL,
    PRIMARY KEY (run_id, item_id, verifier)
);
"""


@dataclass
class ItemRecord:
    """One item as the ledger knows it."""

    item_id: str
    run_id: str
    index: int
    seed: int
    state: str
    next_step: int
    payload: dict[str, Any]
    attempts: int = 0
    error: str | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    dataset_version: int | None = None


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt at one step of one item."""

    item_id: str
    step: str
    attempt: int
    status: str
    started_at: float
    finished_at: float
    error: str | None = None
    role: str | None = None
    model: str | None = None
    request_key: str | None = None
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


@dataclass(frozen=True)
class QaCheckRecord:
    """One acceptance-sampling check: what ``verifier`` said of stored item ``item_id``.

    ``verdict`` is ``correct``, ``defective``, ``unsure`` (the verifier could not tell) or
    ``error`` (it could not check: asked again by the next ``qa``). ``details`` holds what
    the check cost and, for a model, which request it sent.
    """

    run_id: str
    item_id: str
    verifier: str
    verdict: str
    reason: str
    sample_seed: int
    checked_at: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """One run as the ledger knows it."""

    run_id: str
    recipe_name: str
    recipe_source: dict[str, Any]
    recipe_digest: str
    recipe_version: str
    dataset: str
    config: dict[str, Any]
    status: str
    message: str
    created_at: float
    updated_at: float
    active_s: float


def item_record(row: sqlite3.Row | tuple[Any, ...]) -> ItemRecord:
    return ItemRecord(
        item_id=row[0],
        run_id=row[1],
        index=row[2],
        seed=row[3],
        state=row[4],
        next_step=row[5],
        payload=orjson.loads(row[6]),
        attempts=row[7],
        error=row[8],
        verdicts=orjson.loads(row[9]),
        dataset_version=row[10],
    )


def run_record(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(
        run_id=row[0],
        recipe_name=row[1],
        recipe_source=orjson.loads(row[2]),
        recipe_digest=row[3],
        recipe_version=row[4],
        dataset=row[5],
        config=orjson.loads(row[6]),
        status=row[7],
        message=row[8],
        created_at=row[9],
        updated_at=row[10],
        active_s=row[11],
    )
