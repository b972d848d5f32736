"""Fixtures of the unit tests."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def steps_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable module with a python step and a verifier, removed afterwards."""
    name = f"sf_test_steps_{uuid.uuid4().hex}"
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from synthfactory.verdict import Verdict

            LIMIT = 3

            def tidy(payload):
                return {"fact": {"text": payload["fact"]["text"].strip()}}

            def judge(payload):
                return Verdict.ok("fine", tier="expensive")
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(code_dir))
    yield name
    sys.modules.pop(name, None)
