"""An in-toto Statement v1 with a SLSA Provenance v1 predicate for a finished run (sign it
with :func:`~synthfactory.provenance.dsse.dsse_envelope`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from synthfactory.errors import NotFoundError
from synthfactory.provenance.canonical import canonical_json
from synthfactory.provenance.exports.run_view import RunView, rfc3339
from synthfactory.version import __version__

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://synthfactory.dev/provenance/run/v1"
BUILDER_ID = "https://synthfactory.dev/builder/local/v1"


def rows_digest(rows: Iterable[Mapping[str, Any]]) -> str:
    """The hex SHA-256 of the canonical JSON of ``rows`` sorted by ``item_id`` (see the
    module docstring): the in-toto subject digest of a run's rows."""
    ordered = sorted((dict(r) for r in rows), key=lambda r: str(r["item_id"]))
    return hashlib.sha256(canonical_json(ordered)).hexdigest()


def _checkpoint_byproduct(workspace: Path) -> list[dict[str, Any]]:
    from synthfactory.provenance.log import SqliteAuditLog

    path = workspace / "audit" / "log.sqlite"
    if not path.exists():
        return []
    log = SqliteAuditLog(path)
    try:
        latest = log.latest_checkpoint()
    finally:
        log.close()
    if latest is None:
        return []
    note = latest.note.encode()
    return [
        {
            "name": "audit/checkpoint",
            "mediaType": "text/x.c2sp.signed-note; charset=utf-8",
            "digest": {"sha256": hashlib.sha256(note).hexdigest()},
            "content": base64.b64encode(note).decode(),
        }
    ]


def intoto_statement(workspace: Path, run_id: str) -> dict[str, Any]:
    """An in-toto Statement v1 with a SLSA Provenance v1 predicate for a finished run.

    The subject is the run's dataset rows (name ``<dataset>@<run id>``, digest as in the
    module docstring); the byproduct is the audit log's latest signed checkpoint (its
    C2SP note, base64 in ``content`` as ResourceDescriptor bytes are). The internal
    parameters carry the run's measured quality (``quality``: the acceptance-sampling
    defect-rate estimate with its Wilson 95% bounds, the SLA, and whether the run is
    releasable).
    """
    view = RunView(Path(workspace), run_id)
    view.require_finished()
    run = view.run
    try:
        rows = view.table().to_pylist()
    except NotFoundError:
        rows = []  # nothing stored: the subject is the empty list
    run_cfg = dict(run.config.get("run", {}))
    recipe_digest = {"sha256": run.recipe_digest}
    dependencies: list[dict[str, Any]] = [
        {
            "name": f"recipe:{run.recipe_name}",
            "uri": f"urn:synthfactory:recipe:{run.recipe_name}:{run.recipe_version}",
            "digest": recipe_digest,
            "annotations": {"source": run.recipe_source, "version": run.recipe_version},
        }
    ]
    for role, cfg in sorted(view.endpoints.items()):
        model = str(cfg.get("model") or "unknown")
        annotations: dict[str, Any] = {"role": role, "endpoint": cfg.get("url")}
        if cfg.get("license"):
            annotations["license"] = cfg["license"]
        dependencies.append(
            {
                "name": f"model:{model}",
                "uri": f"urn:synthfactory:model:{model}",
                "annotations": annotations,
            }
        )
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": f"{run.dataset}@{run.run_id}", "digest": {"sha256": rows_digest(rows)}}
        ],
        "predicateType": SLSA_PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "recipe": {
                        "name": run.recipe_name,
                        "version": run.recipe_version,
                        "digest": recipe_digest,
                    },
                    "target": run_cfg.get("target"),
                    "seed": run_cfg.get("seed"),
                    "dataset": run.dataset,
                },
                "internalParameters": {
                    "run": run_cfg,
                    "endpoints": view.endpoints,
                    "audit": run.config.get("audit"),
                    "quality": view.quality,
                },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {"synthfactory": __version__}},
                "metadata": {
                    "invocationId": run.run_id,
                    "startedOn": rfc3339(run.created_at),
                    "finishedOn": rfc3339(run.updated_at),
                },
                "byproducts": _checkpoint_byproduct(view.workspace.root),
            },
        },
    }


__all__ = [
    "BUILDER_ID",
    "BUILD_TYPE",
    "SLSA_PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "intoto_statement",
    "rows_digest",
]
