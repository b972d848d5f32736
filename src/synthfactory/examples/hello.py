"""``hello``: the smallest useful recipe. One model step, one cheap verifier.

Each item samples a topic and an audience, asks the ``generator`` role for one short fact
as structured JSON, and keeps it if the fact is a real sentence of sensible length.
"""

from __future__ import annotations

from typing import Any

from synthfactory.recipe.model import Dataset, ModelStep, Recipe, VerifyStep
from synthfactory.recipe.samplers import choice
from synthfactory.verdict import Verdict

TOPICS = (
    "volcanoes",
    "tides",
    "honeybees",
    "black holes",
    "photosynthesis",
    "glaciers",
    "octopuses",
    "prime numbers",
    "the printing press",
    "lightning",
    "coral reefs",
    "vaccines",
    "magnets",
    "deserts",
    "the Roman aqueducts",
    "DNA",
    "rainbows",
    "semiconductors",
    "migratory birds",
    "compound interest",
)
AUDIENCES = ("a child", "a high-school student", "an engineer")

FACT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "fact": {"type": "string", "minLength": 1, "maxLength": 400},
        "confidence": {"type": "string", "enum": ["low", "medium", "high"]},
    },
    "required": ["fact", "confidence"],
    "additionalProperties": False,
}


def check_fact(item: dict[str, Any]) -> Verdict:
    """A cheap check: the fact is text of sensible length, not an echo of the prompt."""
    fact = str(item.get("answer", {}).get("fact", "")).strip()
    if len(fact) < 8:
        return Verdict.reject(f"fact too short ({len(fact)} chars)")
    if len(fact) > 400:
        return Verdict.reject(f"fact too long ({len(fact)} chars)")
    if fact.lower().startswith("write one"):
        return Verdict.reject("the model echoed the prompt")
    return Verdict.ok()


recipe = Recipe(
    name="hello",
    version="1",
    description="One short fact per topic and audience, checked for length.",
    samplers={"topic": choice(TOPICS), "audience": choice(AUDIENCES)},
    steps=(
        ModelStep(
            name="write",
            role="generator",
            system="You are a careful science writer. Answer in JSON.",
            prompt="Write one true, surprising fact about {{ topic }} for {{ audience }}.",
            schema=FACT_SCHEMA,
            output="answer",
            params={"temperature": 0.7, "max_tokens": 120},
        ),
        VerifyStep(name="check", fn=check_fact),
    ),
    dataset=Dataset(name="hello", fields=("topic", "audience", "answer")),
)
