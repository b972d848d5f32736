"""Run configuration: frozen, typed, validated once."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synthfactory.recipe.model import is_plain_name


class RunConfig(BaseModel):
    """How one run of a recipe goes.

    ``target`` counts usable examples (passed every verifier and stored). Items are admitted
    until passed + in-flight reaches the target, so the dataset gets exactly ``target`` rows
    when every item passes; rejected and failed items are replaced by new ones, up to
    ``max_items`` in all.

    ``max_defect_rate`` is the run's quality SLA: the run is releasable only once an
    acceptance sample (``synthfactory qa``) puts the Wilson 95% upper bound of its defect
    rate at or below it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: int = Field(ge=1)
    seed: int = 0
    max_items: int | None = Field(default=None, ge=1)
    max_in_flight: int = Field(default=256, ge=1, description="items in progress at once")
    commit_rows: int = Field(default=1000, ge=1, description="rows per dataset commit")
    commit_interval_s: float = Field(default=5.0, gt=0, description="longest wait between commits")
    replay: bool = False
    dataset: str | None = None
    max_infra_retries: int = Field(default=3, ge=0)
    strict_verifiers: bool = Field(
        default=False,
        description="stop the run when a tier's canary catch rate is below its floor",
    )
    max_defect_rate: float | None = Field(
        default=None, gt=0, lt=1, description="quality SLA: the most defects tolerated"
    )

    @field_validator("dataset")
    @classmethod
    def _plain_dataset(cls, value: str | None) -> str | None:
        # It names a directory in the workspace: no separators, no "..".
        if value is not None and not is_plain_name(value):
            raise ValueError(f"{value!r} is not a dataset name (letters, digits, '-', '_', '.')")
        return value

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        if self.max_items is not None and self.max_items < self.target:
            raise ValueError(f"max_items ({self.max_items}) is below target ({self.target})")
        return self

    @property
    def item_budget(self) -> int:
        """How many items may be admitted in all."""
        return self.max_items if self.max_items is not None else self.target * 10 + 100
