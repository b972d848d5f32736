"""What the acceptance-sampling tests share: recipes with a known defect rate, and a run of
one against the fake server."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import synthfactory.cli
from synthfactory import Dataset, EndpointConfig, ModelStep, Recipe, RunConfig, randint, run_recipe
from synthfactory.testing import FakeServer
from synthfactory.verify.steps import JudgeStep

HELLO_YAML = Path(synthfactory.cli.__file__).parent / "examples" / "hello.yaml"


def truly_defective(payload: dict[str, Any]) -> bool:
    """The ground truth of the test runs: about 10% of examples are wrong, by a hash of the
    example (no verifier of the run could know)."""
    return hashlib.sha256(str(payload["n"]).encode()).digest()[0] < 26  # 26/256 = 10.2%


def reference_check(payload: dict[str, Any]) -> bool:
    """The scripted stronger verifier: right about every example."""
    return not truly_defective(payload)


def always_right(payload: dict[str, Any]) -> bool:
    """A verifier that finds nothing wrong."""
    return True


NUMBERS = Recipe(
    name="qa_numbers",
    samplers={"n": randint(0, 10**9)},
    steps=(ModelStep(name="say", prompt="Say something about {{ n }}.", output="text"),),
    dataset=Dataset(name="qa_numbers", fields=("n", "text")),
)

JUDGED = Recipe(
    name="qa_judged",
    samplers={"n": randint(0, 10**9)},
    steps=(
        ModelStep(name="say", prompt="Say something about {{ n }}.", output="text"),
        JudgeStep(name="judge", rubric="RUBRIC-MARK: is {{ text }} true of {{ n }}?", threshold=1),
    ),
    dataset=Dataset(name="qa_judged", fields=("n", "text")),
)


def run_on_fake(ws: Path, recipe: Any, target: int, **config: Any) -> str:
    with FakeServer() as server:
        roles = ["generator", "judge"] if recipe is not NUMBERS else ["generator"]
        summary = asyncio.run(
            run_recipe(
                recipe,
                workspace=ws,
                config=RunConfig(target=target, seed=5, **config),
                endpoints=[EndpointConfig(role=r, url=server.url) for r in roles],
            )
        )
    assert summary.status == "finished" and summary.stored == target
    return summary.run_id
