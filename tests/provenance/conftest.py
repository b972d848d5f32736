"""Fixtures for the provenance tests: keys, records, a populated log with a witness."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from synthfactory.provenance import (
    DedupDecision,
    DirectoryWitness,
    NoteSigner,
    ProvenanceRecord,
    SqliteAuditLog,
    ToolCall,
    VerdictEntry,
    digest,
)

ORIGIN = "synthfactory.test/ws-1"


def make_record(i: int, item: str | None = None, **overrides: Any) -> ProvenanceRecord:
    """A realistic record of attempt 1 of step ``generate`` of item ``item`` (or ``item-i``)."""
    item_id = item or f"item-{i:05d}"
    fields: dict[str, Any] = {
        "item_id": item_id,
        "run_id": "run-1",
        "step": "generate",
        "attempt": 1,
        "recipe_name": "hello",
        "recipe_version": "1",
        "recipe_digest": digest("recipe hello v1"),
        "started_at": 1_700_000_000.0 + i,
        "finished_at": 1_700_000_000.25 + i,
        "model": "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "endpoint_role": "writer",
        "prompt_template_digest": digest("Write a greeting for {{name}}"),
        "request_digest": digest({"prompt": f"Write a greeting for user {i}"}),
        "sampling": {"temperature": 0.7, "top_p": 0.95, "max_tokens": 64},
        "seed": 1000 + i,
        "response_digest": digest(f"Hello, user {i}!"),
        "output_digest": digest({"greeting": f"Hello, user {i}!"}),
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "cost": 0.000125,
        "tool_calls": (ToolCall("python", digest("print(1)"), digest("1\n")),),
        "isolation_layers": ("netns", "landlock", "seccomp", "cgroup", "rlimits"),
        "verdicts": (VerdictEntry("json_schema", "pass", "cheap", ""),),
        "dedup": DedupDecision("unique", "exact"),
        "decision": "accept",
        "worker": "host-a/pid-42/gen-0",
        "licenses": {"model:qwen2.5-coder-1.5b": "Apache-2.0", "seed:names": "CC0-1.0"},
        "extra": {"nonce": f"rec-{i:05d}"},
    }
    fields.update(overrides)
    return ProvenanceRecord(**fields)


@pytest.fixture
def record_factory() -> Callable[..., ProvenanceRecord]:
    """The :func:`make_record` factory."""
    return make_record


@pytest.fixture
def signer() -> NoteSigner:
    """The log's signing key."""
    return NoteSigner.generate("log.synthfactory.test")


@pytest.fixture
def witness_signer() -> NoteSigner:
    """The witness's own key."""
    return NoteSigner.generate("witness.example")


@dataclass
class LogSetup:
    """A log file, its keys and its witness, as a test sees them."""

    path: Path
    signer: NoteSigner
    witness: DirectoryWitness

    def open(self, *, witnessed: bool = True, **kw: Any) -> SqliteAuditLog:
        """Reopen the log with its signer (and witness)."""
        witnesses = [self.witness] if witnessed else []
        return SqliteAuditLog(self.path, self.signer, origin=ORIGIN, witnesses=witnesses, **kw)


@pytest.fixture
def log_setup(tmp_path: Path, signer: NoteSigner, witness_signer: NoteSigner) -> LogSetup:
    """An empty log under tmp_path with a directory witness trusting the log's key."""
    witness = DirectoryWitness(tmp_path / "witness", witness_signer, [signer.verifier])
    return LogSetup(tmp_path / "audit" / "log.sqlite", signer, witness)


@pytest.fixture
def filled(log_setup: LogSetup) -> Iterator[LogSetup]:
    """100 records (items item-00000..; item-00007 has 3 attempts), checkpoints at 50, 100."""
    with log_setup.open(batch_size=16) as log:
        log.append(make_record(i) for i in range(48))
        log.append(
            make_record(48, item="item-00007", attempt=a, step="verify", decision=None)
            for a in (2, 3)
        )
        log.checkpoint()
        log.append(make_record(i) for i in range(50, 100))
        log.checkpoint()
    yield log_setup
