"""The quality verifiers :func:`~synthfactory.verify.qa.audit_quality` can ask.

- :class:`ModelVerifier`: a stronger model at an OpenAI-compatible endpoint, shown the run's
  own judge rubric(s) rendered over the example (or the example itself, as JSON), answering
  ``{"correct": bool, "reasons": str}``; every call goes through the workspace's response
  cache, so asking again never pays twice.
- :class:`PythonVerifier`: your function ``payload -> bool | Verdict | QualityVerdict |
  None`` (a reference implementation, a checker you own), named ``module:function``.
- :class:`HumanVerifier`: a person answering y / n / s(kip) in the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from synthfactory.errors import ConfigError, TransientModelError, UserInputError
from synthfactory.models.client import ChatRequest, ChatResponse
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.seeds import derive_seed
from synthfactory.verdict import Verdict
from synthfactory.verify.qa import QualityVerdict

if TYPE_CHECKING:
    import aiohttp

    from synthfactory.cache import ResponseCache
    from synthfactory.models.openai_http import OpenAIChatClient

#: The structured answer every model verifier gives.
QA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"correct": {"type": "boolean"}, "reasons": {"type": "string"}},
    "required": ["correct", "reasons"],
    "additionalProperties": False,
}

QA_SYSTEM = (
    "You audit training examples that automated checks already accepted. Decide whether the "
    "example is correct: it does exactly what it claims or was asked, with no factual, "
    "logical or coding error, for every input. Be strict: if any part is wrong, it is not "
    'correct. Answer in JSON: {"correct": true or false, "reasons": "..."}.'
)


def _shown(payload: Mapping[str, Any]) -> str:
    """The example as a person or a model is shown it: its fields as indented JSON, without
    the run's bookkeeping fields (those starting with ``_``)."""
    visible = {k: v for k, v in payload.items() if not str(k).startswith("_")}
    return orjson.dumps(visible, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _as_quality(result: Any) -> QualityVerdict:
    """A checker's answer as a quality verdict."""
    if isinstance(result, QualityVerdict):
        return result
    if result is None:
        return QualityVerdict.unsure("the checker could not tell")
    if isinstance(result, bool):
        return QualityVerdict.correct() if result else QualityVerdict.wrong("the check said no")
    if isinstance(result, Verdict):
        if result.status == "infra_error":
            return QualityVerdict.error(result.reason or "the checker's infrastructure failed")
        if result.passed:
            if result.details.get("uncertain"):
                return QualityVerdict.unsure(result.reason)
            return QualityVerdict.correct(result.reason)
        return QualityVerdict.wrong(result.reason or result.status)
    return QualityVerdict.error(
        f"the checker returned {type(result).__name__}; expected bool, Verdict, "
        "QualityVerdict or None"
    )


class PythonVerifier:
    """Your own checker: ``fn(payload)`` returns True (correct), False (defective), a
    :class:`~synthfactory.verdict.Verdict`, a :class:`QualityVerdict`, or None (cannot tell).

    It runs in this process: make it a reference implementation or a comparison, and run
    generated code through the sandbox (``synthfactory.sandbox``) if it must execute any.
    An exception is recorded as an ``error`` check (asked again next time).
    """

    def __init__(self, fn: Callable[[dict[str, Any]], Any], *, name: str | None = None) -> None:
        self.fn = fn
        self._name = name or f"python:{fn.__module__}:{fn.__qualname__}"

    @classmethod
    def from_ref(cls, ref: str) -> PythonVerifier:
        """The function ``module:function`` names (the module importable from here)."""
        module_name, sep, attr = ref.partition(":")
        if not sep or not module_name or not attr:
            raise ConfigError(f"python verifier {ref!r}: expected module:function")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ConfigError(
                f"python verifier {ref!r}: cannot import {module_name}: {err}"
            ) from None
        fn: Any = module
        for part in attr.split("."):
            fn = getattr(fn, part, None)
        if not callable(fn):
            raise ConfigError(f"python verifier {ref!r}: {module_name} has no function {attr!r}")
        return cls(fn, name=f"python:{ref}")

    @property
    def name(self) -> str:
        """``python:module:function``."""
        return self._name

    async def check(self, payload: Mapping[str, Any]) -> QualityVerdict:
        """Call the function; an exception is an ``error`` check."""
        try:
            result = self.fn(dict(payload))
        except Exception as err:
            return QualityVerdict.error(f"{type(err).__name__}: {err}")
        return _as_quality(result)


class _LineReader:
    """Lines from a stream, awaited without a thread: the event loop watches the stream's
    file descriptor, so Ctrl-C (which cancels the waiting task) is never stuck behind a
    blocking read. A stream without a usable descriptor (a StringIO) or a regular file
    (which never blocks, and which epoll refuses to watch) is read directly."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._buffer = b""
        try:
            self._fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None

    async def readline(self) -> str:
        """The next line, with its newline; ``""`` at the end of the input."""
        if self._fd is None:
            return self._stream.readline()
        while b"\n" not in self._buffer:
            chunk = await self._read_some(self._fd)
            if not chunk:
                line, self._buffer = self._buffer, b""
                return line.decode(errors="replace")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return (line + b"\n").decode(errors="replace")

    @staticmethod
    async def _read_some(fd: int) -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(fd, wake)
        except (OSError, NotImplementedError):
            return os.read(fd, 4096)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        return os.read(fd, 4096)


class HumanVerifier:
    """A person at the terminal: each example is shown, then ``y`` (correct), ``n``
    (defective) or ``s`` (skip: unsure) is read from ``stdin``; anything after the letter is
    kept as the reason (``n returns the total, not a running sum``).

    Prompts go to ``stdout`` (the CLI passes stderr, so ``--json`` output stays clean).
    ``stdin`` is read through its file descriptor (nothing may have been read from it
    through its own buffer). Closed input stops the check with a :class:`UserInputError`,
    and Ctrl-C cancels it; the answers given so far are kept either way, and the same ``qa``
    command carries on from there.
    """

    def __init__(self, stdin: TextIO, stdout: TextIO, *, name: str = "human") -> None:
        self._in = _LineReader(stdin)
        self._out = stdout
        self._name = name
        self._lock = asyncio.Lock()
        self._shown = 0

    @property
    def name(self) -> str:
        """``human`` unless named otherwise (to tell two reviewers apart)."""
        return self._name

    async def check(self, payload: Mapping[str, Any]) -> QualityVerdict:
        """Show the example and wait for an answer (one example at a time)."""
        async with self._lock:
            self._shown += 1
            self._out.write(f"\n--- example {self._shown} ---\n{_shown(payload)}\n")
            while True:
                self._out.write("correct? [y]es / [n]o (a reason may follow) / [s]kip: ")
                self._out.flush()
                line = await self._in.readline()
                if not line:
                    raise UserInputError(
                        "no answer: standard input was closed. The answers given so far are "
                        "kept; run the same qa command again to carry on"
                    )
                answer, _, reason = line.strip().partition(" ")
                letter = answer[:1].lower()
                if letter == "y" and answer.lower() in ("y", "yes"):
                    return QualityVerdict.correct(reason.strip())
                if letter == "n" and answer.lower() in ("n", "no"):
                    return QualityVerdict.wrong(reason.strip() or "a person said no")
                if letter == "s" and answer.lower() in ("s", "skip"):
                    return QualityVerdict.unsure(reason.strip() or "skipped")
                self._out.write("please answer y, n or s\n")


class ModelVerifier:
    """A stronger model at an OpenAI-compatible endpoint, with structured output.

    ``rubrics`` are Jinja templates over the example (the run's :class:`JudgeStep`
    rubrics, say: :func:`run_rubrics`); they are shown to the model as what the example was
    meant to satisfy. Without rubrics, or when one cannot be rendered over an example, the
    model is shown the example's fields as JSON. Every request goes through ``cache``; an
    answer is committed to it before the check returns, so no answer is ever paid twice.
    """

    def __init__(
        self,
        endpoint: EndpointConfig,
        cache: ResponseCache,
        *,
        rubrics: Sequence[str] = (),
        params: Mapping[str, Any] | None = None,
        max_attempts: int = 3,
    ) -> None:
        if endpoint.model is None:
            raise ValueError("resolve the endpoint's model id (resolve_model) before use")
        self.endpoint = endpoint
        self.rubrics = tuple(rubrics)
        self.params = dict(params or {"temperature": 0.0, "max_tokens": 400})
        self.max_attempts = max_attempts
        self._cache = cache
        self._session: aiohttp.ClientSession | None = None
        self._client: OpenAIChatClient | None = None

    @property
    def name(self) -> str:
        """``model:<model id>``: the same model is the same verifier at any URL."""
        return f"model:{self.endpoint.model}"

    def request(self, payload: Mapping[str, Any], attempt: int = 0) -> ChatRequest:
        """The request attempt ``attempt`` sends for ``payload``."""
        from synthfactory.recipe.templates import render

        prompt = None
        if self.rubrics:
            try:
                rendered = [render(r, dict(payload)) for r in self.rubrics]
            except ValueError:
                rendered = []  # a rubric naming a field this example lacks: show it whole
            if rendered:
                prompt = (
                    "The example was generated and judged against these criteria:\n\n"
                    + "\n\n---\n\n".join(rendered)
                    + "\n\nIgnore any scoring scale above. Is the example correct?"
                )
        if prompt is None:
            prompt = f"The example:\n\n{_shown(payload)}\n\nIs the example correct?"
        assert self.endpoint.model is not None
        return ChatRequest(
            model=self.endpoint.model,
            messages=(
                {"role": "system", "content": QA_SYSTEM},
                {"role": "user", "content": prompt},
            ),
            params=dict(self.params),
            seed=derive_seed("qa", attempt, bits=31),
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "qa", "schema": QA_SCHEMA, "strict": True},
            },
        )

    async def check(self, payload: Mapping[str, Any]) -> QualityVerdict:
        """Ask the model (or the cache); an answer that is not valid JSON of the schema is
        asked again with another seed, up to ``max_attempts``."""
        from synthfactory.provenance import digest

        problem = ""
        details: dict[str, Any] = {}
        for attempt in range(self.max_attempts):
            request = self.request(payload, attempt)
            key = request.key()
            response = self._cache.get(key)
            cached = response is not None
            if response is None:
                try:
                    response = await self._send(request)
                except TransientModelError as err:
                    # Retried by the client already; a refused request (ModelRequestError)
                    # or an endpoint that is down is fatal and stops the whole check.
                    return QualityVerdict.error(f"model call failed: {err}")
                self._cache.put(key, response)
                self._cache.flush()
            prompt_tokens = 0 if cached else response.prompt_tokens
            completion_tokens = 0 if cached else response.completion_tokens
            # Totals over the attempts: an invalid answer was paid for too.
            details = {
                "model": response.model,
                "role": self.endpoint.role,
                "request_key": key,
                "response_digest": digest(response.content),
                "cached": cached,
                "prompt_tokens": prompt_tokens + int(details.get("prompt_tokens", 0)),
                "completion_tokens": completion_tokens + int(details.get("completion_tokens", 0)),
                "cost": self.endpoint.cost(prompt_tokens, completion_tokens)
                + float(details.get("cost", 0.0)),
                "attempt": attempt,
                "seed": request.seed,
                "sampling": dict(self.params),
            }
            answer, problem = _parse_answer(response)
            if answer is not None:
                correct, reasons = answer
                return QualityVerdict("correct" if correct else "defective", reasons, details)
        return QualityVerdict(
            "error", f"no valid answer in {self.max_attempts} attempts: {problem}", details
        )

    async def _send(self, request: ChatRequest) -> ChatResponse:
        if self._client is None:
            import aiohttp

            from synthfactory.models.openai_http import OpenAIChatClient

            self._session = aiohttp.ClientSession()
            self._client = OpenAIChatClient(self.endpoint, self._session)
        return await self._client.complete(request)

    async def aclose(self) -> None:
        """Close the HTTP session (the cache belongs to the caller)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._client = None


def _parse_answer(response: ChatResponse) -> tuple[tuple[bool, str] | None, str]:
    try:
        value = orjson.loads(response.content)
    except orjson.JSONDecodeError as err:
        return None, f"invalid JSON: {err}; answer began {response.content[:80]!r}"
    if not isinstance(value, dict) or not isinstance(value.get("correct"), bool):
        return None, f"the answer has no boolean 'correct': {response.content[:80]!r}"
    reasons = value.get("reasons")
    return (value["correct"], reasons if isinstance(reasons, str) else ""), ""


async def resolve_model(endpoint: EndpointConfig) -> EndpointConfig:
    """``endpoint`` with its model id, asking ``GET /models`` if it names none."""
    if endpoint.model is not None:
        return endpoint
    import aiohttp

    from synthfactory.models.openai_http import discover_model

    async with aiohttp.ClientSession() as session:
        model = await discover_model(session, endpoint)
    return endpoint.model_copy(update={"model": model})


def run_rubrics(workspace: str | Path, run_id: str) -> tuple[str, ...]:
    """The rubric templates of run ``run_id``'s judge steps, loading its recipe from where
    the run did; none if the recipe cannot be loaded again (a Recipe object, a moved file)
    or has no judge."""
    from synthfactory.errors import SynthFactoryError
    from synthfactory.ledger import Ledger
    from synthfactory.recipe.loader import resolve_recipe
    from synthfactory.verify.steps import JudgeStep
    from synthfactory.workspace import Workspace

    ledger = Ledger(Workspace(workspace, create=False).ledger_path)
    try:
        source = ledger.run(run_id).recipe_source
    finally:
        ledger.close()
    if source.get("kind") == "pickle":
        return ()
    try:
        recipe = resolve_recipe(str(source["ref"]))[0]
    except (SynthFactoryError, KeyError):
        return ()
    return tuple(s.rubric for s in recipe.steps if isinstance(s, JudgeStep))


@contextlib.asynccontextmanager
async def open_model_verifier(
    workspace: str | Path, run_id: str, endpoint: EndpointConfig
) -> AsyncIterator[ModelVerifier]:
    """A :class:`ModelVerifier` for run ``run_id``: the endpoint's model resolved, the run's
    judge rubrics, and the workspace's response cache (closed at the end)."""
    from synthfactory.cache import ResponseCache
    from synthfactory.workspace import Workspace

    ws = Workspace(workspace, create=False)
    resolved = await resolve_model(endpoint)
    cache = ResponseCache(ws.cache_path)
    verifier = ModelVerifier(resolved, cache, rubrics=run_rubrics(ws.root, run_id))
    try:
        yield verifier
    finally:
        await verifier.aclose()
        cache.close()


__all__ = [
    "QA_SCHEMA",
    "QA_SYSTEM",
    "HumanVerifier",
    "ModelVerifier",
    "PythonVerifier",
    "open_model_verifier",
    "resolve_model",
    "run_rubrics",
]
