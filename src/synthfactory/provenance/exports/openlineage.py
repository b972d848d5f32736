"""OpenLineage 2-0-2 RunEvents of a run."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from synthfactory.errors import NotFoundError
from synthfactory.provenance.exports.run_view import TERMINAL, RunView, rfc3339

PRODUCER = "https://synthfactory.dev/synthfactory/v0.1.0"
OPENLINEAGE_SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
OPENLINEAGE_NAMESPACE = "synthfactory"
RUN_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://synthfactory.dev/run")

_FACETS = "https://openlineage.io/spec/facets"
_SCHEMA_FACET = f"{_FACETS}/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
_STATS_FACET = (
    f"{_FACETS}/1-0-2/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet"
)
_VERSION_FACET = (
    f"{_FACETS}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
)
_ERROR_FACET = f"{_FACETS}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"


def run_uuid(run_id: str) -> str:
    """The OpenLineage runId of a run: ``uuid5(uuid5(NAMESPACE_URL,
    "https://synthfactory.dev/run"), run_id)``, the same for every export of the run."""
    return str(uuid.uuid5(RUN_UUID_NAMESPACE, run_id))


def _facet(schema_url: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema_url, **fields}


def _ol_fields(schema: Any) -> list[dict[str, Any]]:
    import pyarrow as pa

    out = []
    for field in schema:
        entry: dict[str, Any] = {"name": field.name, "type": str(field.type)}
        if pa.types.is_struct(field.type):
            entry["fields"] = _ol_fields(list(field.type))
        out.append(entry)
    return out


def openlineage_events(workspace: Path, run_id: str) -> list[dict[str, Any]]:
    """OpenLineage 2-0-2 RunEvents of a run: START, then COMPLETE, FAIL or ABORT by the
    run's status (only START while it is in progress)."""
    view = RunView(Path(workspace), run_id)
    run = view.run
    job = {"namespace": OPENLINEAGE_NAMESPACE, "name": run.recipe_name}
    recipe_input = {
        "namespace": OPENLINEAGE_NAMESPACE,
        "name": f"recipe/{run.recipe_name}@{run.recipe_version}",
        "facets": {"version": _facet(_VERSION_FACET, datasetVersion=run.recipe_digest)},
    }
    output: dict[str, Any] = {
        "namespace": "file://" + str(view.workspace.root),
        "name": f"datasets/{run.dataset}.lance",
        "facets": {},
    }

    def event(kind: str, at: float) -> dict[str, Any]:
        return {
            "eventType": kind,
            "eventTime": rfc3339(at),
            "producer": PRODUCER,
            "schemaURL": OPENLINEAGE_SCHEMA_URL,
            "run": {"runId": run_uuid(run.run_id), "facets": {}},
            "job": dict(job),
            "inputs": [recipe_input],
            "outputs": [output],
        }

    events = [event("START", run.created_at)]
    final = TERMINAL.get(run.status)
    if final is None:
        return events
    try:
        table = view.table()
    except NotFoundError:
        table = None
    done = event(final, run.updated_at)
    finished_output = dict(output)
    facets: dict[str, Any] = {}
    if table is not None:
        facets["schema"] = _facet(_SCHEMA_FACET, fields=_ol_fields(table.schema))
    if view.commits:
        facets["version"] = _facet(_VERSION_FACET, datasetVersion=str(view.commits[-1][1]))
    finished_output["facets"] = facets
    finished_output["outputFacets"] = {
        "outputStatistics": _facet(
            _STATS_FACET, rowCount=0 if table is None else int(table.num_rows)
        )
    }
    done["outputs"] = [finished_output]
    if final != "COMPLETE":
        done["run"]["facets"]["errorMessage"] = _facet(
            _ERROR_FACET, message=run.message or run.status, programmingLanguage="python"
        )
    events.append(done)
    return events


__all__ = [
    "OPENLINEAGE_NAMESPACE",
    "OPENLINEAGE_SCHEMA_URL",
    "PRODUCER",
    "RUN_UUID_NAMESPACE",
    "openlineage_events",
    "run_uuid",
]
