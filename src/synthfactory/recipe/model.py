"""What a recipe is made of: samplers and seeds, steps, and the dataset it fills.

A recipe is plain data plus plain functions. It never knows where it runs: the runtime
decides which pool executes each step (model calls on the generation pool, Python and
verifier steps on the verification pool). The step types live in
:mod:`synthfactory.recipe.steps` and :mod:`synthfactory.verify.steps`; this module
re-exports them as the recipe's vocabulary.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from synthfactory.errors import RecipeError
from synthfactory.recipe.samplers import describe_sampler
from synthfactory.recipe.steps import (
    DEDUP_THRESHOLDS,
    SAMPLING_PARAMS,
    DedupStep,
    ModelStep,
    Payload,
    PythonStep,
    StepFn,
)
from synthfactory.recipe.templates import compile_template
from synthfactory.seeds import derive_seed
from synthfactory.verify.canaries import Canaries
from synthfactory.verify.policy import VerificationPolicy
from synthfactory.verify.steps import JUDGE_SCHEMA, JudgeStep, SandboxStep, VerifyFn, VerifyStep


@dataclass(frozen=True)
class Coverage:
    """Coverage targets: at least ``targets[c]`` usable examples of each category ``c``.

    ``field`` is the sampler field that asks for a category; the run steers it, drawing
    under-filled categories in proportion to what they still need and never drawing a full
    one. ``label`` is the payload path that says which category an item really is once
    made (default ``field``; set it when the model may drift, e.g. ``answer.category``):
    an item of a category that is already full is rejected, so no category overshoots.
    ``targets`` may be one number for every category the sampler can draw.
    """

    field: str
    targets: Mapping[str, int] | int
    label: str | None = None

    @property
    def label_path(self) -> str:
        """Where an item's category is read from."""
        return self.label or self.field

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        targets = self.targets if isinstance(self.targets, int) else dict(self.targets)
        return {"field": self.field, "targets": targets, "label": self.label_path}


Step = ModelStep | PythonStep | VerifyStep | JudgeStep | SandboxStep | DedupStep


@dataclass(frozen=True)
class Dataset:
    """The dataset a recipe fills: a table name and, optionally, which payload fields to keep."""

    name: str
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Recipe:
    """A named, versioned description of how one example is made.

    Each item starts from ``seeds[index % len(seeds)]`` (if any seeds are given), then every
    sampler draws its field from the item's own RNG, so item ``i`` of a run with seed ``s``
    is the same wherever and whenever it is made.
    """

    name: str
    steps: tuple[Step, ...]
    samplers: Mapping[str, Callable[[random.Random], Any]] = field(default_factory=dict)
    seeds: tuple[Mapping[str, Any], ...] = ()
    dataset: Dataset | None = None
    version: str = "1"
    description: str = ""
    policy: VerificationPolicy = field(default_factory=VerificationPolicy)
    coverage: Coverage | None = None
    canaries: Canaries | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        if self.coverage is not None:
            object.__setattr__(self, "coverage", _expand_coverage(self))
        _validate(self)

    @property
    def targets(self) -> dict[str, int]:
        """Coverage targets per category ({} without coverage)."""
        if self.coverage is None:
            return {}
        assert not isinstance(self.coverage.targets, int)  # expanded in __post_init__
        return dict(self.coverage.targets)

    @property
    def dedup_steps(self) -> tuple[DedupStep, ...]:
        """The recipe's dedup steps, in order."""
        return tuple(s for s in self.steps if isinstance(s, DedupStep))

    @property
    def dataset_name(self) -> str:
        """The table this recipe's items are stored in."""
        return self.dataset.name if self.dataset else self.name

    @property
    def needs_sandbox(self) -> bool:
        """True if any step runs code in the sandbox."""
        return any(isinstance(s, SandboxStep) for s in self.steps)

    @property
    def roles(self) -> frozenset[str]:
        """Every endpoint role the recipe's model steps use."""
        roles = {s.role for s in self.steps if isinstance(s, ModelStep | JudgeStep)}
        roles.update(
            s.embedder for s in self.steps if isinstance(s, DedupStep) and s.method == "semantic"
        )
        return frozenset(roles)

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        for s in self.steps:
            if s.name == name:
                return s
        raise RecipeError(f"recipe {self.name!r} has no step {name!r}")

    def initial_payload(self, index: int, item_seed: int) -> Payload:
        """The payload item ``index`` starts with: its seed record, then every sampler."""
        payload: Payload = dict(self.seeds[index % len(self.seeds)]) if self.seeds else {}
        rng = random.Random(item_seed)
        for key, sampler in self.samplers.items():
            payload[key] = sampler(rng)
        return payload

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description of the whole definition."""
        described: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "samplers": {k: describe_sampler(v) for k, v in self.samplers.items()},
            "seeds": [dict(s) for s in self.seeds],
            "steps": [s.describe() for s in self.steps],
            "policy": self.policy.describe(),
            "coverage": None if self.coverage is None else self.coverage.describe(),
            "dataset": {
                "name": self.dataset_name,
                "fields": list(self.dataset.fields)
                if self.dataset and self.dataset.fields
                else None,
            },
        }
        if self.canaries is not None:
            # Only when set, so the digest of a recipe without canaries did not change.
            described["canaries"] = self.canaries.describe()
        return described

    def digest(self) -> str:
        """sha256 of the canonical description: changes whenever the definition does."""
        blob = orjson.dumps(self.describe(), option=orjson.OPT_SORT_KEYS, default=str)
        return hashlib.sha256(blob).hexdigest()


def is_plain_name(name: str) -> bool:
    """True for a name that is safe as a file name: letters, digits, '-', '_' and '.',
    starting with a letter or '_' (so never '..')."""
    return bool(name) and name.replace("-", "_").replace(".", "_").isidentifier()


def _validate(recipe: Recipe) -> None:
    where = f"recipe {recipe.name!r}"
    if not is_plain_name(recipe.name):
        raise RecipeError(f"{where}: a recipe name must be letters, digits, '-', '_' or '.'")
    if not is_plain_name(recipe.dataset_name):
        # It names a directory in the workspace: no separators, no "..".
        raise RecipeError(
            f"{where}: dataset name {recipe.dataset_name!r} must be letters, digits, '-', "
            "'_' or '.'"
        )
    if not recipe.steps:
        raise RecipeError(f"{where}: a recipe needs at least one step")
    seen: set[str] = set()
    for step in recipe.steps:
        if not isinstance(
            step, ModelStep | PythonStep | VerifyStep | JudgeStep | SandboxStep | DedupStep
        ):
            raise RecipeError(
                f"{where}: {step!r} is not a ModelStep, PythonStep, VerifyStep, JudgeStep, "
                "SandboxStep or DedupStep"
            )
        if step.name in seen:
            raise RecipeError(f"{where}: two steps are called {step.name!r}")
        seen.add(step.name)
        if isinstance(step, ModelStep):
            unknown = set(step.params) - SAMPLING_PARAMS
            if unknown:
                raise RecipeError(
                    f"{where}, step {step.name!r}: unknown sampling parameter(s) "
                    f"{sorted(unknown)}; known: {sorted(SAMPLING_PARAMS)}"
                )
            if step.max_attempts < 1:
                raise RecipeError(f"{where}, step {step.name!r}: max_attempts must be >= 1")
            for label, text in (("prompt", step.prompt), ("system", step.system)):
                if text is not None:
                    try:
                        compile_template(text)
                    except ValueError as err:
                        raise RecipeError(f"{where}, step {step.name!r}, {label}: {err}") from None
            if step.schema is not None:
                _check_schema(where, step)
        elif isinstance(step, SandboxStep):
            try:
                compile_template(step.code)
            except ValueError as err:
                raise RecipeError(f"{where}, step {step.name!r}, code: {err}") from None
            if not 0 < step.timeout_s <= 600:
                raise RecipeError(f"{where}, step {step.name!r}: timeout_s must be in (0, 600]")
        elif isinstance(step, JudgeStep):
            try:
                compile_template(step.rubric)
            except ValueError as err:
                raise RecipeError(f"{where}, step {step.name!r}, rubric: {err}") from None
            if not 1 <= step.threshold <= 10:
                raise RecipeError(f"{where}, step {step.name!r}: threshold must be 1..10")
        elif isinstance(step, DedupStep):
            _check_dedup(where, step)
        elif not callable(step.fn):
            raise RecipeError(f"{where}, step {step.name!r}: fn is not callable")
    for key, sampler in recipe.samplers.items():
        if not callable(sampler):
            raise RecipeError(f"{where}: sampler {key!r} is not callable")
    _check_coverage(where, recipe)
    _check_canaries(where, recipe)


def _check_canaries(where: str, recipe: Recipe) -> None:
    if recipe.canaries is None:
        return
    tiers = {s.tier for s in recipe.steps if isinstance(s, VerifyStep | SandboxStep | JudgeStep)}
    named = {*recipe.canaries.floors, *(recipe.canaries.tiers or ())}
    for canary in recipe.canaries.items:
        named.update(canary.tiers or ())
    unknown = sorted(named - tiers)
    if unknown:
        raise RecipeError(
            f"{where}: canaries name tier(s) {unknown} that no verifier step has; "
            f"the recipe's tiers: {sorted(tiers)}"
        )


def _check_coverage(where: str, recipe: Recipe) -> None:
    if recipe.coverage is not None:
        if recipe.coverage.field not in recipe.samplers:
            raise RecipeError(
                f"{where}: coverage steers field {recipe.coverage.field!r}, which no sampler "
                f"draws; samplers: {sorted(recipe.samplers)}"
            )
        if not recipe.targets:
            raise RecipeError(f"{where}: coverage needs at least one category target")
        bad = {c: n for c, n in recipe.targets.items() if not isinstance(n, int) or n < 0}
        if bad:
            raise RecipeError(f"{where}: coverage targets must be whole numbers >= 0: {bad}")
    if recipe.dataset is not None and recipe.dataset.fields is not None:
        for step in recipe.dedup_steps:
            top = step.field.split(".")[0]
            if top not in recipe.dataset.fields:
                raise RecipeError(
                    f"{where}, step {step.name!r}: dedups field {step.field!r}, but the "
                    f"dataset does not keep {top!r}, so later runs could not compare "
                    "against it; add it to the dataset's fields"
                )


def _check_dedup(where: str, step: DedupStep) -> None:
    at = f"{where}, step {step.name!r}"
    if step.method not in DEDUP_THRESHOLDS:
        raise RecipeError(
            f"{at}: unknown dedup method {step.method!r}; use exact, minhash or semantic"
        )
    if not step.field:
        raise RecipeError(f"{at}: a dedup step needs the field to compare")
    if step.threshold is not None and not 0.0 < step.threshold <= 1.0:
        raise RecipeError(f"{at}: threshold must be in (0, 1], got {step.threshold}")
    if step.num_perm < 16 or step.shingle < 1:
        raise RecipeError(f"{at}: num_perm must be >= 16 and shingle >= 1")
    if step.patience < 1:
        raise RecipeError(f"{at}: patience must be >= 1")


def _expand_coverage(recipe: Recipe) -> Coverage:
    coverage = recipe.coverage
    assert coverage is not None
    if not isinstance(coverage.targets, int):
        return Coverage(coverage.field, dict(coverage.targets), coverage.label)
    sampler = recipe.samplers.get(coverage.field)
    if sampler is None:
        raise RecipeError(
            f"recipe {recipe.name!r}: coverage steers field {coverage.field!r}, which no "
            f"sampler draws; samplers: {sorted(recipe.samplers)}"
        )
    categories = getattr(sampler, "categories", None)
    if not callable(categories):
        raise RecipeError(
            f"recipe {recipe.name!r}: coverage gives one target for every category of "
            f"{coverage.field!r}, but its sampler does not list its categories (use choice, "
            "weighted or taxonomy, or give targets per category)"
        )
    return Coverage(
        coverage.field, {str(c): coverage.targets for c in categories()}, coverage.label
    )


def _check_schema(where: str, step: ModelStep) -> None:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(dict(step.schema or {}))
    except jsonschema.SchemaError as err:
        raise RecipeError(
            f"{where}, step {step.name!r}: invalid JSON schema: {err.message}"
        ) from None


__all__ = [
    "DEDUP_THRESHOLDS",
    "JUDGE_SCHEMA",
    "SAMPLING_PARAMS",
    "Coverage",
    "Dataset",
    "DedupStep",
    "JudgeStep",
    "ModelStep",
    "Payload",
    "PythonStep",
    "Recipe",
    "SandboxStep",
    "Step",
    "StepFn",
    "VerificationPolicy",
    "VerifyFn",
    "VerifyStep",
    "derive_seed",
    "is_plain_name",
]
