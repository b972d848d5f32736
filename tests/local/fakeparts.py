"""Fake weight-part distributions on disk, laid out exactly as pip installs the real ones.

Each part is a ``<name>-<version>.dist-info`` directory (METADATA, RECORD with sha256 and
size) beside ``<name>/data/partNN.bin``, so :mod:`importlib.metadata` finds them through a
``search_path`` just as it finds the real packages in site-packages.
"""

from __future__ import annotations

import base64
import hashlib
import random
import shutil
from pathlib import Path

from synthfactory.local.weights import KnownModel


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def make_parts(
    site: Path,
    *,
    parts: int = 12,
    part_size: int = 3000,
    seed: int = 7,
    prefix: str = "fakemodel-part",
    version: str = "1.0.0",
) -> tuple[KnownModel, bytes]:
    """Write ``parts`` fake part distributions into ``site``; return the model and its bytes."""
    rng = random.Random(seed)
    blobs = [rng.randbytes(part_size + i) for i in range(parts)]
    for index, blob in enumerate(blobs, start=1):
        write_part(site, prefix, version, index, index, blob)
    whole = b"".join(blobs)
    model = KnownModel(
        name="fake-model",
        title="Fake Model Q4",
        filename="fake-model-q4.gguf",
        package_prefix=prefix,
        version=version,
        parts=parts,
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        extra="local",
    )
    return model, whole


def write_part(
    site: Path, prefix: str, version: str, index: int, file_index: int, blob: bytes
) -> None:
    """One part distribution: package part ``index`` holding ``data/part<file_index>.bin``."""
    dist = f"{prefix}{index}"
    pkg = dist.replace("-", "_")
    remove_part(site, prefix, index)
    data = site / pkg / "data" / f"part{file_index:02d}.bin"
    data.parent.mkdir(parents=True)
    data.write_bytes(blob)
    info = site / f"{pkg}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "RECORD").write_text(
        f"{pkg}/data/{data.name},{_record_hash(blob)},{len(blob)}\n"
        f"{pkg}-{version}.dist-info/METADATA,,\n"
        f"{pkg}-{version}.dist-info/RECORD,,\n",
        encoding="utf-8",
    )


def remove_part(site: Path, prefix: str, index: int) -> None:
    """Uninstall part ``index``."""
    pkg = f"{prefix}{index}".replace("-", "_")
    shutil.rmtree(site / pkg, ignore_errors=True)
    for info in site.glob(f"{pkg}-*.dist-info"):
        shutil.rmtree(info)


def part_file(site: Path, prefix: str, index: int) -> Path:
    """The data file of part ``index``."""
    pkg = f"{prefix}{index}".replace("-", "_")
    return next((site / pkg / "data").glob("part*.bin"))
