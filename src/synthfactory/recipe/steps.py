"""The steps that make an item: a model call, a Python function, a dedup check.

Verifier steps (checks, the sandbox, the judge) are in :mod:`synthfactory.verify.steps`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from synthfactory.dedup.index import DEFAULT_THRESHOLDS

if TYPE_CHECKING:
    pass

Payload = dict[str, Any]
StepFn = Callable[[Payload], "Payload | None"]

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

    ``parse`` (instead of a schema) turns the answer's free text into the stored value, for
    answers a format constraint would spoil (code: :func:`synthfactory.recipe.parsers.
    python_code`). A ``ValueError`` from it marks the attempt invalid, with its message.
    """

    name: str
    prompt: str
    role: str = "generator"
    system: str | None = None
    schema: Mapping[str, Any] | None = None
    output: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    max_attempts: int = 3
    parse: Callable[[str], Any] | None = None

    kind: Literal["model"] = field(default="model", init=False)

    def __post_init__(self) -> None:
        if self.schema is not None and self.parse is not None:
            raise ValueError(
                f"model step {self.name!r}: give a schema or a parse function, not both"
            )

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
            # Only when set, so recipes without a parser keep their digest (and their runs
            # stay resumable).
            **({"parse": fn_name(self.parse)} if self.parse is not None else {}),
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
        return {"kind": self.kind, "name": self.name, "fn": fn_name(self.fn)}


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


def fn_name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


__all__ = [
    "DEDUP_THRESHOLDS",
    "SAMPLING_PARAMS",
    "DedupStep",
    "ModelStep",
    "Payload",
    "PythonStep",
    "StepFn",
    "fn_name",
]
