"""Unit tests of the small pieces: cache keys, endpoint parsing, the limiter, errors, the ledger."""

from __future__ import annotations

import asyncio
import pickle
import time
from pathlib import Path

import pytest

import synthfactory
from synthfactory import errors
from synthfactory.cache import ResponseCache
from synthfactory.errors import ConfigError, RecipeError, WorkspaceError
from synthfactory.ledger import ItemRecord, Ledger
from synthfactory.models.client import ChatRequest, ChatResponse
from synthfactory.models.endpoint import parse_endpoint
from synthfactory.models.limiter import AdaptiveLimiter
from synthfactory.models.openai_http import parse_duration
from synthfactory.recipe.model import ModelStep, Recipe, VerifyStep, derive_seed
from synthfactory.recipe.samplers import choice, randint, uniform, weighted
from synthfactory.workspace import Workspace


def test_public_names_are_exactly_all() -> None:
    import types

    for name in synthfactory.__all__:
        assert getattr(synthfactory, name) is not None
    # Subpackages appear as attributes once anything imports them; they are not API names.
    public = {
        name
        for name in dir(synthfactory)
        if not name.startswith("_")
        and not isinstance(getattr(synthfactory, name), types.ModuleType)
    }
    assert public == set(synthfactory.__all__)


BASE = ChatRequest(
    model="m", messages=({"role": "user", "content": "hi"},), params={"temperature": 0.5}, seed=1
)


@pytest.mark.parametrize(
    "changed",
    [
        ChatRequest(model="m2", messages=BASE.messages, params=BASE.params, seed=1),
        ChatRequest(
            model="m", messages=({"role": "user", "content": "hi!"},), params=BASE.params, seed=1
        ),
        ChatRequest(model="m", messages=BASE.messages, params={"temperature": 0.6}, seed=1),
        ChatRequest(
            model="m", messages=BASE.messages, params={"temperature": 0.5, "top_p": 1}, seed=1
        ),
        ChatRequest(model="m", messages=BASE.messages, params=BASE.params, seed=2),
        ChatRequest(
            model="m",
            messages=BASE.messages,
            params=BASE.params,
            seed=1,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        ),
    ],
)
def test_cache_key_changes_with_every_part_of_the_request(changed: ChatRequest) -> None:
    assert changed.key() != BASE.key()


def test_cache_key_ignores_parameter_order() -> None:
    a = ChatRequest(model="m", messages=BASE.messages, params={"a": 1, "b": 2})
    b = ChatRequest(model="m", messages=BASE.messages, params={"b": 2, "a": 1})
    assert a.key() == b.key()


def test_cache_round_trip_and_durability(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    response = ChatResponse(content="x", model="m", prompt_tokens=3, completion_tokens=4)
    assert cache.get("k") is None
    cache.put("k", response)
    assert cache.get("k") == response  # visible before the flush
    cache.close()
    again = ResponseCache(tmp_path / "c.sqlite")
    assert again.get("k") == response
    assert (again.hits, again.misses) == (1, 0)
    again.close()


def test_parse_endpoint() -> None:
    cfg = parse_endpoint(
        "judge=http://127.0.0.1:8000/v1/,model=q,price_in=0.5,concurrency=8,key_env=K"
    )
    assert (cfg.role, cfg.url, cfg.model, cfg.price_in, cfg.concurrency, cfg.api_key_env) == (
        "judge",
        "http://127.0.0.1:8000/v1",
        "q",
        0.5,
        8,
        "K",
    )
    assert cfg.cost(1_000_000, 0) == 0.5
    for bad in (
        "nourl",
        "g=ftp://x",
        "g=http://x/v1,concurrency=0",
        "g=http://x/v1,bogus=1",
        "g=http://x/v1,api_key=sk",
    ):
        with pytest.raises(ConfigError):
            parse_endpoint(bad)


def test_public_dict_has_no_key() -> None:
    from pydantic import SecretStr

    cfg = parse_endpoint("g=http://127.0.0.1:1/v1").model_copy(
        update={"api_key": SecretStr("sk-zzz")}
    )
    assert "sk-zzz" not in repr(cfg)
    assert "sk-zzz" not in str(cfg.public_dict())
    assert "api_key" not in cfg.public_dict()


@pytest.mark.parametrize(
    ("text", "seconds"), [("1.5", 1.5), ("20ms", 0.02), ("6m0s", 360), ("1h2m", 3720)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


async def test_limiter_aimd() -> None:
    limiter = AdaptiveLimiter(16, decrease_interval_s=0.0)
    assert limiter.limit == 16
    limiter.on_overload()
    assert limiter.limit == 8
    limiter.on_overload()
    assert limiter.limit == 4
    for _ in range(40):
        limiter.on_success()
    assert 8 <= limiter.limit <= 16
    for _ in range(20):
        limiter.on_overload()
    assert limiter.limit == 1


async def test_limiter_bounds_concurrency_and_honours_the_gate() -> None:
    limiter = AdaptiveLimiter(3)
    peak = 0

    async def work() -> None:
        nonlocal peak
        await limiter.acquire()
        try:
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0.01)
        finally:
            limiter.release()

    await asyncio.gather(*(work() for _ in range(30)))
    assert peak == 3
    limiter.pause_until(time.monotonic() + 0.2)
    started = time.monotonic()
    await limiter.acquire()
    limiter.release()
    assert time.monotonic() - started >= 0.18


async def test_limiter_cancelled_waiter_frees_nothing_it_did_not_take() -> None:
    limiter = AdaptiveLimiter(1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release()
    assert limiter.in_flight == 0
    await asyncio.wait_for(limiter.acquire(), 1)


def test_errors_pickle_with_their_fields() -> None:
    err = errors.RateLimitedError("slow down", status=429, retry_after=1.5)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is errors.RateLimitedError
    assert (str(back), back.fields) == ("slow down", {"status": 429, "retry_after": 1.5})
    assert isinstance(back, errors.Retryable)
    assert isinstance(errors.EndpointDownError("x"), errors.Fatal)
    assert isinstance(errors.MissingDependencyError.for_extra("datasets", "hf"), errors.Fatal)
    assert "pip install 'synthfactory[hf]'" in str(
        errors.MissingDependencyError.for_extra("datasets", "hf")
    )


def test_samplers_are_deterministic_and_validated() -> None:
    import random

    for sampler in (choice("abc"), randint(1, 6), uniform(0, 1), weighted({"x": 1, "y": 3})):
        assert sampler(random.Random(5)) == sampler(random.Random(5))
    with pytest.raises(ValueError):
        choice([])
    with pytest.raises(ValueError):
        randint(5, 1)
    with pytest.raises(ValueError):
        weighted({"x": 0})


def test_recipe_validation() -> None:
    ok = ModelStep(name="a", prompt="{{ x }}")
    with pytest.raises(RecipeError, match="two steps"):
        Recipe(name="r", steps=(ok, ok))
    with pytest.raises(RecipeError, match="unknown sampling parameter"):
        Recipe(name="r", steps=(ModelStep(name="a", prompt="x", params={"temprature": 1}),))
    with pytest.raises(RecipeError, match="template syntax"):
        Recipe(name="r", steps=(ModelStep(name="a", prompt="{{ x "),))
    with pytest.raises(RecipeError, match="invalid JSON schema"):
        Recipe(name="r", steps=(ModelStep(name="a", prompt="x", schema={"type": "nope"}),))
    with pytest.raises(RecipeError, match="at least one step"):
        Recipe(name="r", steps=())
    with pytest.raises(RecipeError, match="not callable"):
        Recipe(name="r", steps=(VerifyStep(name="v", fn=42),))  # type: ignore[arg-type]


def test_recipe_digest_tracks_the_definition() -> None:
    a = Recipe(name="r", steps=(ModelStep(name="a", prompt="x"),))
    b = Recipe(name="r", steps=(ModelStep(name="a", prompt="y"),))
    assert a.digest() == Recipe(name="r", steps=(ModelStep(name="a", prompt="x"),)).digest()
    assert a.digest() != b.digest()


def test_item_payloads_depend_only_on_run_seed_and_index() -> None:
    recipe = Recipe(
        name="r",
        steps=(ModelStep(name="a", prompt="x"),),
        samplers={"n": randint(0, 10**9)},
        seeds=({"s": 1}, {"s": 2}),
    )
    first = [recipe.initial_payload(i, derive_seed(7, i)) for i in range(5)]
    again = [recipe.initial_payload(i, derive_seed(7, i)) for i in range(5)]
    other = [recipe.initial_payload(i, derive_seed(8, i)) for i in range(5)]
    assert first == again
    assert first != other
    assert [p["s"] for p in first] == [1, 2, 1, 2, 1]


def test_workspace_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Workspace(tmp_path)
    (tmp_path / "workspace.json").write_text('{"format": 99}')
    with pytest.raises(WorkspaceError, match="newer synthfactory"):
        Workspace(tmp_path)


def test_run_lock_is_exclusive_and_released_on_close(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    held = ws.lock_run("r1")
    with pytest.raises(WorkspaceError, match="another process"):
        ws.lock_run("r1")
    held.close()
    ws.lock_run("r1").close()


def test_ledger_buffers_until_flush(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = Ledger(path)
    item = ItemRecord(
        item_id="i1", run_id="r", index=0, seed=1, state="active", next_step=0, payload={"a": 1}
    )
    ledger.add_item(item)
    other = Ledger(path)
    assert other.items("r") == []
    ledger.flush()
    assert [i.item_id for i in other.items("r")] == ["i1"]
    item.state, item.payload = "passed", {"a": 2}
    ledger.save_item(item)
    ledger.flush()
    assert other.item("i1").payload == {"a": 2}
    assert other.counts("r")["passed"] == 1
    ledger.close()
    other.close()
