"""synthfactory: a synthetic-data factory.

Write a :class:`Recipe` (samplers, model steps, Python steps, verifiers, a dataset), then
run it with :func:`run_recipe` (or ``synthfactory run``) against any OpenAI-compatible
endpoint; resume it with :func:`resume_run` after any interruption.
"""

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

__version__ = "0.1.0"

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
