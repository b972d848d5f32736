"""The ``Executor`` protocol: the two pools a run's steps execute on.

The run driver owns everything durable (ledger, cache, dataset commits) and calls an
executor only for work that can be lost and redone: model calls on the generation pool,
Python and verifier steps on the verification pool. A local executor runs both on this
machine; a Ray executor runs them on actors. Recipes never see the difference.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from synthfactory.models.client import ChatRequest, ChatResponse
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.recipe.loader import RecipeSource, load_recipe
from synthfactory.recipe.model import PythonStep, Recipe, VerifyStep
from synthfactory.verdict import Verdict


@dataclass(frozen=True)
class StepOutcome:
    """The result of one Python or verifier step on one payload (picklable).

    ``updates`` for a Python step; ``verdict`` for a verifier; ``error`` when the user's
    function raised (recorded on the item); ``infra_error`` when the pool itself failed
    (the step is retried, never counted against the example).
    """

    updates: dict[str, Any] | None = None
    verdict: Verdict | None = None
    error: str | None = None
    infra_error: str | None = None
    cpu_s: float = field(default=0.0, compare=False)
    worker: str = field(default="", compare=False)


class Executor(Protocol):
    """Runs the steps of a run's items on a generation pool and a verification pool."""

    async def start(self, recipe: RecipeSource, endpoints: Mapping[str, EndpointConfig]) -> None:
        """Bring up both pools for ``recipe`` with the given (resolved) endpoints."""
        ...

    async def call_model(self, role: str, request: ChatRequest) -> ChatResponse:
        """One model call on the generation pool, with the endpoint's retry policy."""
        ...

    async def run_step(self, step: str, payload: dict[str, Any]) -> StepOutcome:
        """One Python or verifier step on the verification pool."""
        ...

    async def close(self) -> None:
        """Stop both pools; idempotent."""
        ...


def _worker() -> str:
    # Asked per call: a forked worker must not report the pid of the process it forked from.
    return f"{socket.gethostname()}:{os.getpid()}"


def execute_step(recipe: Recipe, step_name: str, payload: dict[str, Any]) -> StepOutcome:
    """Run one Python or verifier step in this process (what a verification worker does)."""
    import time

    step = recipe.step(step_name)
    started = time.process_time()
    try:
        if isinstance(step, PythonStep):
            result = step.fn(dict(payload))
            if result is not None and not isinstance(result, dict):
                return StepOutcome(
                    error=f"step {step_name!r} returned {type(result).__name__}, "
                    "not a dict of updates"
                )
            return StepOutcome(
                updates=result or {}, cpu_s=time.process_time() - started, worker=_worker()
            )
        if isinstance(step, VerifyStep):
            answer = step.fn(payload)
            if isinstance(answer, bool):
                verdict = (
                    Verdict.ok(tier=step.tier)
                    if answer
                    else Verdict.reject(f"{step_name} returned False", tier=step.tier)
                )
            elif isinstance(answer, Verdict):
                # The step decides which tier it is; the verifier function need not know.
                verdict = dataclasses.replace(answer, tier=step.tier)
            else:
                return StepOutcome(
                    error=f"verifier {step_name!r} returned {type(answer).__name__}, "
                    "not a Verdict or bool"
                )
            return StepOutcome(
                verdict=verdict, cpu_s=time.process_time() - started, worker=_worker()
            )
        return StepOutcome(error=f"step {step_name!r} is not a Python or verifier step")
    except Exception as err:
        return StepOutcome(error=f"{type(err).__name__}: {err}"[:2000])


def execute_batch(
    source: RecipeSource, batch: list[tuple[str, dict[str, Any]]]
) -> list[StepOutcome]:
    """Run a batch of (step, payload) in this process; loads the recipe once per process."""
    recipe = load_recipe(source)
    return [execute_step(recipe, step, payload) for step, payload in batch]
