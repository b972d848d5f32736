"""One model step of one item: render, answer from the cache or the endpoint, parse, record.

Every attempt is recorded in the ledger and the audit log; every answer goes into the
cache before anything that depends on it is stored. What a failure means for the item is
the caller's decision: :meth:`ModelCalls.run` returns the value or the error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import jsonschema_rs
import orjson

from synthfactory.cache import ResponseCache
from synthfactory.errors import CacheMissError, ModelRequestError, TransientModelError
from synthfactory.ledger import ItemRecord
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.recipe.render import render_request
from synthfactory.recipe.steps import ModelStep
from synthfactory.runtime.executor import Executor
from synthfactory.runtime.journal import Journal
from synthfactory.runtime.tally import Tally

#: 4xx answers that mean "this endpoint will refuse everything", not "this item is bad".
FATAL_STATUSES = frozenset({401, 403, 404})


@dataclass(frozen=True)
class CallOutcome:
    """The parsed value of a model step, or why it has none; and what it cost."""

    value: Any = None
    error: str | None = None
    cost: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the step produced a value."""
        return self.error is None


class ModelCalls:
    """Runs model steps for the driver (items and canaries alike)."""

    def __init__(
        self,
        *,
        endpoints: Mapping[str, EndpointConfig],
        cache: ResponseCache,
        executor: Executor,
        journal: Journal,
        tally: Tally,
        replay: bool,
        run_id: str,
    ) -> None:
        self.endpoints = endpoints
        self.cache = cache
        self.executor = executor
        self.journal = journal
        self.tally = tally
        self.replay = replay
        self.run_id = run_id

    async def run(self, item: ItemRecord, step: ModelStep) -> CallOutcome:
        """Up to ``step.max_attempts`` attempts, each with its own seed; the first valid
        answer wins. Fatal endpoint errors (401/403/404) and replay cache misses raise."""
        endpoint = self.endpoints[step.role]
        assert endpoint.model is not None
        last_error = ""
        spent = 0.0
        for attempt in range(step.max_attempts):
            try:
                request = render_request(
                    step, item.payload, model=endpoint.model, item_seed=item.seed, attempt=attempt
                )
            except ValueError as err:
                return CallOutcome(error=f"step {step.name!r}: {err}", cost=spent)
            key = request.key()
            started = time.time()
            replayed = False
            item.attempts += 1
            found = self.cache.lookup(key)
            if found is None:
                if self.replay:
                    raise CacheMissError(
                        f"--replay: item {item.item_id}, step {step.name!r}, attempt {attempt}: "
                        "the request is not in this workspace's cache, so this run cannot be "
                        "replayed without calling the endpoint"
                    )
                try:
                    response = await self.executor.call_model(step.role, request)
                except (ModelRequestError, TransientModelError) as err:
                    if err.fields.get("status") in FATAL_STATUSES:
                        raise
                    # A bad request (4xx) or an endpoint that kept failing after every retry:
                    # this item fails, with the error kept; the run goes on.
                    self.journal.model_attempt(
                        item,
                        step,
                        attempt,
                        request,
                        None,
                        status="error",
                        error=str(err),
                        started=started,
                    )
                    return CallOutcome(error=f"step {step.name!r}: {err}", cost=spent)
                # Durable before anything else is done with it: a kill from here on
                # cannot make a resume pay for this answer again.
                await self.cache.keep(key, response, paid_by=self.run_id)
                self.tally.model_calls += 1
                cached = False
            elif found.paid_by == self.run_id:
                # Bought by this very run before it was killed and resumed. If the call was
                # journaled then, that record stands (it holds the cost); if the kill came
                # between the answer and its journal entry, it is recorded now as the call
                # it was, never as a free cache hit.
                response = found.response
                cached = replayed = self.journal.recorded(item, step, attempt)
                if not replayed:
                    self.tally.model_calls += 1
            else:
                response, cached = found.response, True
                self.tally.cache_hits += 1
            cost = (
                0.0 if cached else endpoint.cost(response.prompt_tokens, response.completion_tokens)
            )
            spent += cost
            if not cached:
                self.tally.prompt_tokens += response.prompt_tokens
                self.tally.completion_tokens += response.completion_tokens
                self.tally.token_cost += cost
            value, error = read_answer(step, response.content)
            status = "ok" if error is None else "invalid"
            self.journal.model_attempt(
                item,
                step,
                attempt,
                request,
                response,
                status=status,
                error=error,
                started=started,
                cached=cached,
                cost=cost,
                replayed=replayed,
            )
            if error is None:
                return CallOutcome(value=value, cost=spent)
            last_error = error
        return CallOutcome(
            error=f"step {step.name!r}: no valid output in {step.max_attempts} attempts: "
            f"{last_error}",
            cost=spent,
        )


def read_answer(step: ModelStep, text: str) -> tuple[Any, str | None]:
    """The value a model step keeps from its answer's text (its schema's JSON, its parser's
    result, or the text), or ``(None, why)`` when the answer is not valid."""
    if step.schema is not None:
        return parse_structured(text, step.schema)
    if step.parse is not None:
        try:
            return step.parse(text), None
        except ValueError as err:
            return None, f"answer could not be parsed: {err}"
    return text, None


def parse_structured(text: str, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The JSON value of ``text`` if it matches ``schema``; else ``(None, why)``."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        return None, f"invalid JSON: {err}; answer began {text[:80]!r}"
    fast, full = _validators(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    # The compiled (Rust) validator passes most answers in well under a microsecond; the
    # pure-Python one (~50x slower) has the last word on a failure and words the message.
    if fast is not None and fast.is_valid(value):
        return value, None
    error = jsonschema.exceptions.best_match(full.iter_errors(value))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return None, f"answer does not match the schema at {path}: {error.message}"
    return value, None


_VALIDATORS: dict[bytes, tuple[Any, jsonschema.protocols.Validator]] = {}


def _validators(schema_key: bytes) -> tuple[Any, jsonschema.protocols.Validator]:
    # A per-process memo of compiled validators: building one costs far more than using it.
    found = _VALIDATORS.get(schema_key)
    if found is None:
        schema = orjson.loads(schema_key)
        try:
            fast = jsonschema_rs.validator_for(schema)
        except ValueError:  # a schema it cannot compile (its ValidationError is one)
            fast = None
        found = (fast, jsonschema.Draft202012Validator(schema))
        _VALIDATORS[schema_key] = found
    return found


__all__ = ["FATAL_STATUSES", "CallOutcome", "ModelCalls", "parse_structured", "read_answer"]
