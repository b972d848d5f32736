"""The verifier steps a recipe declares: a check (tier 1), the sandbox (tier 2), a judge
(tier 3). Each produces a :class:`~synthfactory.verdict.Verdict`; a "no" is data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from synthfactory.recipe.steps import ModelStep, Payload, fn_name
from synthfactory.verdict import Verdict

VerifyFn = Callable[[Payload], "Verdict | bool"]


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
        return {"kind": self.kind, "name": self.name, "fn": fn_name(self.fn), "tier": self.tier}


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


__all__ = ["JUDGE_SCHEMA", "JudgeStep", "SandboxStep", "VerifyFn", "VerifyStep"]
