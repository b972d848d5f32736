"""``synthfactory dedup``: a thin typer layer over :func:`~synthfactory.dedup.corpus.dedup_corpus`.

The embedder is resolved here, at the edge: ``local`` is MiniLM from the ``embed`` extra, a
URL is an OpenAI-compatible endpoint whose key (if any) is read from
``SYNTHFACTORY_EMBEDDING_API_KEY``.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr

from synthfactory.cli_exits import exit_codes

if TYPE_CHECKING:
    from synthfactory.dedup.embedders import Embedder

#: The environment variable holding the API key of a URL embedder.
EMBEDDING_KEY_ENV = "SYNTHFACTORY_EMBEDDING_API_KEY"


class Method(StrEnum):
    """Dedup methods offered on the command line."""

    exact = "exact"
    minhash = "minhash"
    semantic = "semantic"


def resolve_embedder(spec: str, model: str) -> Embedder:
    """``local`` or an OpenAI-compatible base URL (``http(s)://.../v1``) to an embedder."""
    from synthfactory.dedup.errors import DedupConfigError

    if spec == "local":
        from synthfactory.dedup.embedders import MiniLMEmbedder

        return MiniLMEmbedder()
    if spec.startswith(("http://", "https://")):
        from synthfactory.dedup.embedders import OpenAIEmbedder

        key = os.environ.get(EMBEDDING_KEY_ENV)
        return OpenAIEmbedder(spec, model, SecretStr(key) if key else None)
    raise DedupConfigError(f"--embedder must be 'local' or an http(s) URL, got {spec!r}")


def dedup(
    input_path: Annotated[
        Path, typer.Option("--input", "-i", help="Corpus to clean: .jsonl or .parquet.")
    ],
    output_path: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where the kept rows go: .jsonl or .parquet."),
    ],
    method: Annotated[
        Method, typer.Option("--method", "-m", help="exact, minhash (near) or semantic.")
    ] = Method.exact,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            "-t",
            help="minhash: estimated Jaccard (default 0.8); semantic: cosine (default 0.9).",
        ),
    ] = None,
    field: Annotated[str, typer.Option("--field", "-f", help="The text field of a row.")] = "text",
    key_field: Annotated[
        str | None,
        typer.Option("--key", help="Field naming a row in duplicate_of (default: row number)."),
    ] = None,
    num_perm: Annotated[
        int, typer.Option("--num-perm", help="minhash: number of permutations.")
    ] = 128,
    shingle: Annotated[int, typer.Option("--shingle", help="minhash: words per shingle.")] = 3,
    embedder: Annotated[
        str,
        typer.Option(
            "--embedder",
            help="semantic: 'local' (MiniLM, the embed extra) or an OpenAI-compatible base "
            f"URL (.../v1; key from {EMBEDDING_KEY_ENV}).",
        ),
    ] = "local",
    embedding_model: Annotated[
        str, typer.Option("--embedding-model", help="semantic: model name sent to a URL.")
    ] = "text-embedding-3-small",
    dropped_path: Annotated[
        Path | None,
        typer.Option(
            "--dropped", help="Also write dropped rows, with duplicate_of and similarity."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Drop duplicate rows of a JSONL or Parquet corpus: exact, near (MinHash) or semantic."""
    from synthfactory.dedup.corpus import dedup_corpus

    with exit_codes():
        chosen = resolve_embedder(embedder, embedding_model) if method is Method.semantic else None
        report = dedup_corpus(
            input_path,
            output_path,
            method.value,
            threshold,
            field,
            key_field=key_field,
            dropped_path=dropped_path,
            num_perm=num_perm,
            shingle=shingle,
            embedder=chosen,
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    dropped = ", ".join(f"{k}={v}" for k, v in sorted(report.dropped.items())) or "none"
    typer.echo(
        f"read {report.read}, kept {report.kept}, dropped {report.read - report.kept} "
        f"({dropped}) in {report.seconds:.2f} s -> {output_path}",
        err=True,
    )


__all__ = ["EMBEDDING_KEY_ENV", "Method", "dedup", "resolve_embedder"]
