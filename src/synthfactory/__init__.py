"""synthfactory: a synthetic-data factory.

Write a :class:`Recipe` (samplers, model steps, Python steps, verifiers, a dataset), then
run it with :func:`run_recipe` (or ``synthfactory run``) against any OpenAI-compatible
endpoint; resume it with :func:`resume_run` after any interruption.

Names are imported on first use, so a verification worker that only needs the recipe
model does not pay for the run driver, the audit log or the dataset store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from synthfactory.version import __version__ as __version__

if TYPE_CHECKING:
    from synthfactory.errors import SynthFactoryError
    from synthfactory.models.endpoint import EndpointConfig, parse_endpoint
    from synthfactory.recipe.model import (
        Dataset,
        JudgeStep,
        ModelStep,
        PythonStep,
        Recipe,
        VerificationPolicy,
        VerifyStep,
    )
    from synthfactory.recipe.samplers import choice, randint, uniform, weighted
    from synthfactory.runtime.config import RunConfig
    from synthfactory.runtime.progress import Progress, RunSummary
    from synthfactory.runtime.runs import resume_run, run_recipe
    from synthfactory.verdict import Verdict


_WHERE = {
    "SynthFactoryError": "synthfactory.errors",
    "EndpointConfig": "synthfactory.models.endpoint",
    "parse_endpoint": "synthfactory.models.endpoint",
    "Dataset": "synthfactory.recipe.model",
    "JudgeStep": "synthfactory.recipe.model",
    "ModelStep": "synthfactory.recipe.model",
    "PythonStep": "synthfactory.recipe.model",
    "Recipe": "synthfactory.recipe.model",
    "VerificationPolicy": "synthfactory.recipe.model",
    "VerifyStep": "synthfactory.recipe.model",
    "choice": "synthfactory.recipe.samplers",
    "randint": "synthfactory.recipe.samplers",
    "uniform": "synthfactory.recipe.samplers",
    "weighted": "synthfactory.recipe.samplers",
    "RunConfig": "synthfactory.runtime.config",
    "Progress": "synthfactory.runtime.progress",
    "RunSummary": "synthfactory.runtime.progress",
    "resume_run": "synthfactory.runtime.runs",
    "run_recipe": "synthfactory.runtime.runs",
    "Verdict": "synthfactory.verdict",
}

__all__ = [
    "Dataset",
    "EndpointConfig",
    "JudgeStep",
    "ModelStep",
    "Progress",
    "PythonStep",
    "Recipe",
    "RunConfig",
    "RunSummary",
    "SynthFactoryError",
    "Verdict",
    "VerificationPolicy",
    "VerifyStep",
    "choice",
    "parse_endpoint",
    "randint",
    "resume_run",
    "run_recipe",
    "uniform",
    "weighted",
]


assert set(_WHERE) == set(__all__), "every public name needs a home module"


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'synthfactory' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
