"""What a recipe is made of: samplers and seeds, steps, and the dataset it fills.

A recipe is plain data plus plain functions. It never knows where it runs: the runtime
decides which pool executes each step (model calls on the generation pool, Python and
verifier steps on the verification pool).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from synthfactory.dedup.index import DEFAULT_THRESHOLDS
from synthfactory.errors import RecipeError
from synthfactory.recipe.samplers import describe_sampler
from synthfactory.recipe.templates import compile_template
from synthfactory.verdict import Verdict

Payload = dict[str, Any]
StepFn = Callable[[Payload], "Payload | None"]
VerifyFn = Callable[[Payload], "Verdict | bool"]

#: Sampling parameters a model step may set; anything else is refused at load time so a
#: typo (``temprature``) cannot silently change nothing.
SAMPLING_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "max_tokens",
        "presence_penalty",
        "frequency_penalty",
        "repeat_penalty",
        "stop",
        "n",
        "logit_bias",
    }
)


@dataclass(frozen=True)
class ModelStep:
    """One chat-completion call.

    ``prompt`` (and ``system``) are Jinja templates over the item's payload. With a JSON
    ``schema`` the model is asked for structured output and the parsed object is stored
    under ``output``; without one, the text is. An answer that is not valid JSON or does not
    match the schema is a failed attempt, retried up to ``max_attempts`` times with a new
    seed each time.
    """

    name: str
    prompt: str
    role: str = "generator"
    system: str | None = None
    schema: Mapping[str, Any] | None = None
    output: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    max_attempts: int = 3

    kind: Literal["model"] = field(default="model", init=False)

    @property
    def output_field(self) -> str:
        """The payload field this step fills."""
        return self.output or self.name

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {
            "kind": self.kind,
            "name": self.name,
            "role": self.role,
            "prompt": self.prompt,
            "system": self.system,
            "schema": self.schema,
            "output": self.output_field,
            "params": dict(self.params),
            "max_attempts": self.max_attempts,
        }


@dataclass(frozen=True)
class PythonStep:
    """A plain function ``payload -> updates``; the returned mapping is merged into the payload.

    It runs on the verification pool (separate processes), so it may use the CPU freely.
    """

    name: str
    fn: StepFn

    kind: Literal["python"] = field(default="python", init=False)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {"kind": self.kind, "name": self.name, "fn": _fn_name(self.fn)}


@dataclass(frozen=True)
class VerifyStep:
    """A verifier ``payload -> Verdict | bool``.

    A "no" rejects the item; it is data, not an error.
    """

    name: str
    fn: VerifyFn
    tier: str = "cheap"

    kind: Literal["verify"] = field(default="verify", init=False)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {"kind": self.kind, "name": self.name, "fn": _fn_name(self.fn), "tier": self.tier}


@dataclass(frozen=True)
class SandboxStep:
    """Tier 2: run generated code in the sandbox pool; a non-zero exit rejects the item.

    ``code`` is a Jinja template over the payload that renders the Python script to run,
    typically the solution followed by its tests::

        SandboxStep(name="run_tests", code="{{ answer.solution }}\n\n{{ answer.tests }}\n")

    The code never runs outside the sandbox; the verdict records the isolation layers that
    were in force. ``timeout_s`` is CPU time, with a wall-clock cap.
    """

    name: str
    code: str
    timeout_s: float = 5.0
    tier: str = "sandbox"

    kind: Literal["sandbox"] = field(default="sandbox", init=False)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {
            "kind": self.kind,
            "name": self.name,
            "code": self.code,
            "timeout_s": self.timeout_s,
            "tier": self.tier,
        }


#: The structured answer every judge gives.
JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 10},
        "reasons": {"type": "string"},
    },
    "required": ["score", "reasons"],
    "additionalProperties": False,
}

_JUDGE_SYSTEM = (
    "You are a strict reviewer of training examples. Score the example against the rubric "
    "from 1 (unusable) to 10 (excellent) and give short reasons. Answer in JSON."
)


@dataclass(frozen=True)
class JudgeStep:
    """Tier 3: an LLM judge scores the item against a rubric, with structured output.

    ``rubric`` is a Jinja template over the payload (it should show the judge the example).
    The item passes if the score is at least ``threshold``; a score within
    ``uncertain_margin`` below it is "uncertain" (details say so) and fails unless a later
    tier settles it. Only items that passed every earlier step reach a judge.
    """

    name: str
    rubric: str
    role: str = "judge"
    threshold: int = 7
    uncertain_margin: int = 0
    system: str = _JUDGE_SYSTEM
    params: Mapping[str, Any] = field(
        default_factory=lambda: {"temperature": 0.0, "max_tokens": 300}
    )
    max_attempts: int = 3
    tier: str = "judge"

    kind: Literal["judge"] = field(default="judge", init=False)

    def request_step(self) -> ModelStep:
        """The model call this judge makes, as a plain model step."""
        return ModelStep(
            name=self.name,
            prompt=self.rubric,
            role=self.role,
            system=self.system,
            schema=JUDGE_SCHEMA,
            output=f"_judge_{self.name}",
            params=self.params,
            max_attempts=self.max_attempts,
        )

    def verdict(self, answer: Mapping[str, Any]) -> Verdict:
        """Turn the judge's structured answer into a verdict."""
        score = int(answer["score"])
        details = {"score": score, "threshold": self.threshold}
        reason = f"score {score}/10 (pass at {self.threshold}): {answer.get('reasons', '')}"
        if score >= self.threshold:
            return Verdict("pass", reason, self.tier, details)
        if score >= self.threshold - self.uncertain_margin:
            return Verdict("fail", reason, self.tier, {**details, "uncertain": True})
        return Verdict("fail", reason, self.tier, details)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {
            "kind": self.kind,
            "name": self.name,
            "role": self.role,
            "rubric": self.rubric,
            "system": self.system,
            "threshold": self.threshold,
            "uncertain_margin": self.uncertain_margin,
            "params": dict(self.params),
            "max_attempts": self.max_attempts,
            "tier": self.tier,
        }


@dataclass(frozen=True)
class VerificationPolicy:
    """Which verifier tiers run on which items.

    Tiers in ``sampled_tiers`` (by default the sandbox tier) run on every item whose
    ``critical_field`` is truthy, on a seeded, reproducible ``sample_rate`` fraction of the
    rest, and on any item a cheaper tier marked uncertain (escalation). Every other tier runs
    on every item that reaches it. The first failing tier stops the item.
    """

    sample_rate: float = 1.0
    sampled_tiers: tuple[str, ...] = ("sandbox",)
    critical_field: str = "critical"

    def __post_init__(self) -> None:
        if not 0.0 <= self.sample_rate <= 1.0:
            raise RecipeError(f"sample_rate must be in [0, 1], got {self.sample_rate}")

    def should_run(
        self, tier: str, payload: Mapping[str, Any], item_seed: int, step: str, escalated: bool
    ) -> tuple[bool, str]:
        """Whether a step of ``tier`` runs on this item, and why."""
        if tier not in self.sampled_tiers:
            return True, "every item"
        if payload.get(self.critical_field):
            return True, "critical item"
        if escalated:
            return True, "escalated: an earlier tier was uncertain"
        draw = derive_seed(item_seed, "sample", step) / 2**63
        if draw < self.sample_rate:
            return True, f"sampled ({self.sample_rate:.0%})"
        return False, f"not sampled ({self.sample_rate:.0%})"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {
            "sample_rate": self.sample_rate,
            "sampled_tiers": list(self.sampled_tiers),
            "critical_field": self.critical_field,
        }


#: Default similarity threshold per dedup method (exact needs none): the dedup engine's own.
DEDUP_THRESHOLDS = DEFAULT_THRESHOLDS


@dataclass(frozen=True)
class DedupStep:
    """Drops an item whose ``field`` repeats an item already in the dataset (from this run
    or any earlier one) or one that passed this step earlier in the run.

    ``method``: ``exact`` (normalized content), ``minhash`` (near duplicates: estimated
    Jaccard of word ``shingle``-grams at least ``threshold``, ``num_perm`` permutations) or
    ``semantic`` (cosine of embeddings at least ``threshold``, from the endpoint of role
    ``embedder``). A dropped item is rejected with the id of the item it repeats.

    Put it after the checks that can still reject an item: an item is remembered as soon as
    it passes this step. ``patience`` consecutive duplicates (per coverage category, or in
    the whole run) mean the model has run out of new ideas there: that category, or the
    run, stops instead of looping.
    """

    name: str
    field: str
    method: Literal["exact", "minhash", "semantic"] = "minhash"
    threshold: float | None = None
    num_perm: int = 128
    shingle: int = 3
    embedder: str = "embedder"
    patience: int = 25
    tier: str = "dedup"

    # ``field`` is an attribute of this class, so name the dataclass helper in full.
    kind: Literal["dedup"] = dataclasses.field(default="dedup", init=False)

    @property
    def effective_threshold(self) -> float:
        """``threshold``, or the method's default."""
        return self.threshold if self.threshold is not None else DEDUP_THRESHOLDS[self.method]

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {
            "kind": "dedup",
            "name": self.name,
            "field": self.field,
            "method": self.method,
            "threshold": self.effective_threshold,
            "num_perm": self.num_perm,
            "shingle": self.shingle,
            "embedder": self.embedder if self.method == "semantic" else None,
            "patience": self.patience,
        }


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
        return {
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

    def digest(self) -> str:
        """sha256 of the canonical description: changes whenever the definition does."""
        blob = orjson.dumps(self.describe(), option=orjson.OPT_SORT_KEYS, default=str)
        return hashlib.sha256(blob).hexdigest()


def derive_seed(*parts: object, bits: int = 63) -> int:
    """A deterministic seed from ``parts`` (run seed, item index, step, attempt...)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - bits)


def _fn_name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def _validate(recipe: Recipe) -> None:
    where = f"recipe {recipe.name!r}"
    if not recipe.name or not recipe.name.replace("-", "_").replace(".", "_").isidentifier():
        raise RecipeError(f"{where}: a recipe name must be letters, digits, '-', '_' or '.'")
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
    "VerificationPolicy",
    "VerifyStep",
    "derive_seed",
]
