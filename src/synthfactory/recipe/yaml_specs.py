"""The shape of a YAML recipe: the pydantic models a parsed recipe file is validated against.

They check required fields, unknown fields and types only; what the values mean is checked
by :class:`~synthfactory.recipe.yaml_build.Builder`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

_STEP_KINDS = ("model", "python", "verify", "judge", "sandbox", "dedup")


class Spec(BaseModel):
    # strict: YAML already gives real types, so "3" is not quietly an int.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ModelSpec(Spec):
    prompt: str
    role: str = Field(default="generator", min_length=1)
    system: str | None = None
    # ``schema`` would shadow a BaseModel attribute, hence the alias.
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    params: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int = Field(default=3, ge=1)
    # A ``module:function`` from the answer's text to the stored value (instead of a schema).
    parse: str | None = None


class JudgeSpec(Spec):
    rubric: str
    role: str = Field(default="judge", min_length=1)
    threshold: int = Field(default=7, ge=1, le=10)
    uncertain_margin: int = Field(default=0, ge=0, le=9)
    system: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int = Field(default=3, ge=1)


class SandboxSpec(Spec):
    code: str
    timeout_s: float = Field(default=5.0, gt=0, le=600)

    @field_validator("timeout_s", mode="before")
    @classmethod
    def _int_timeout(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class DedupSpec(Spec):
    field: str = Field(min_length=1)
    method: Literal["exact", "minhash", "semantic"] = "minhash"
    threshold: float | None = Field(default=None, gt=0.0, le=1.0)
    num_perm: int = Field(default=128, ge=16)
    shingle: int = Field(default=3, ge=1)
    embedder: str = Field(default="embedder", min_length=1)
    patience: int = Field(default=25, ge=1)

    @field_validator("threshold", mode="before")
    @classmethod
    def _int_threshold(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class CoverageSpec(Spec):
    field: str = Field(min_length=1)
    targets: int | dict[str, int]
    label: str | None = Field(default=None, min_length=1)


class PolicySpec(Spec):
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    sampled_tiers: list[str] = Field(default_factory=lambda: ["sandbox"])
    critical_field: str = Field(default="critical", min_length=1)

    @field_validator("sample_rate", mode="before")
    @classmethod
    def _int_rate(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class StepSpec(Spec):
    name: str = Field(min_length=1)
    model: ModelSpec | None = None
    python: str | None = None
    verify: dict[str, Any] | None = None
    judge: JudgeSpec | None = None
    sandbox: SandboxSpec | None = None
    dedup: DedupSpec | None = None
    output: str | None = Field(default=None, min_length=1)
    tier: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> StepSpec:
        kinds = [kind for kind in _STEP_KINDS if getattr(self, kind) is not None]
        if len(kinds) != 1:
            has = "none of them" if not kinds else "both " + " and ".join(repr(k) for k in kinds)
            raise PydanticCustomError(
                "step_kind",
                "a step needs exactly one of 'model', 'python', 'verify', 'judge', "
                "'sandbox' or 'dedup'; this one has {has}",
                {"has": has},
            )
        if self.output is not None and self.model is None:
            raise PydanticCustomError("step_option", "'output' applies only to model steps")
        if self.tier is not None and not (self.verify or self.judge or self.sandbox or self.dedup):
            raise PydanticCustomError(
                "step_option", "'tier' applies only to verify, judge, sandbox and dedup steps"
            )
        return self


class DatasetSpec(Spec):
    name: str | None = Field(default=None, min_length=1)
    fields: list[str] | None = None


class RecipeSpec(Spec):
    name: str
    version: str = "1"
    description: str | None = None
    # A list of mappings or a path: checked by the builder, which can say which it expected.
    seeds: Any = None
    samplers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1)
    dataset: DatasetSpec | None = None
    policy: PolicySpec | None = None
    coverage: CoverageSpec | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _int_version(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


__all__ = [
    "CoverageSpec",
    "DatasetSpec",
    "DedupSpec",
    "JudgeSpec",
    "ModelSpec",
    "PolicySpec",
    "RecipeSpec",
    "SandboxSpec",
    "Spec",
    "StepSpec",
]
