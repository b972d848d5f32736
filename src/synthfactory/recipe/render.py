"""Turn a model step and an item into the exact request sent: one pure function, used by the
run driver, by replay, and by anyone who wants to know what an item asked."""

from __future__ import annotations

from typing import Any

from synthfactory.models.client import ChatRequest
from synthfactory.recipe.steps import ModelStep
from synthfactory.recipe.templates import render
from synthfactory.seeds import derive_seed


def render_request(
    step: ModelStep, payload: dict[str, Any], *, model: str, item_seed: int, attempt: int
) -> ChatRequest:
    """The request attempt ``attempt`` of ``step`` sends for an item.

    The seed is derived from the item's seed, the step and the attempt, so a retry after
    invalid output is a different request (and a different cache entry), and the same item
    asks the same thing in every run with the same run seed. Raises ``ValueError`` if a
    template names a field the payload lacks.
    """
    messages = []
    if step.system is not None:
        messages.append({"role": "system", "content": render(step.system, payload)})
    messages.append({"role": "user", "content": render(step.prompt, payload)})
    response_format = None
    if step.schema is not None:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": step.name, "schema": dict(step.schema), "strict": True},
        }
    return ChatRequest(
        model=model,
        messages=tuple(messages),
        params=dict(step.params),
        seed=derive_seed(item_seed, step.name, attempt, bits=31),
        response_format=response_format,
    )
