"""Exports for a finished run: in-toto/SLSA in a signed DSSE envelope, OpenLineage, Croissant.

Everything here is built from what the workspace already holds (the ledger, the Lance
table, the audit log); nothing is sent anywhere. No export carries a secret: endpoints are
described by :meth:`EndpointConfig.public_dict` (which has no API key) with any user or
password stripped from their URLs.

**The subject digest** of a run's in-toto statement is recomputable from
``synthfactory export RUN --format jsonl``::

    rows = [json.loads(line) for line in open("run.jsonl")]
    rows.sort(key=lambda row: row["item_id"])
    body = orjson.dumps(rows, option=orjson.OPT_SORT_KEYS)  # canonical JSON of the list
    hashlib.sha256(body).hexdigest()

that is, the SHA-256 of the canonical JSON (:mod:`synthfactory.provenance.canonical`: sorted
keys, no whitespace, nulls kept as ``null``) of the JSON array of the run's rows, every
column included, sorted by ``item_id``. :func:`rows_digest` is that rule.

**DSSE**: the envelope's payload is the canonical JSON of the statement; the signature is
Ed25519 over ``PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body``
(lengths in ASCII decimal bytes), made with the workspace's log key
(``WORKSPACE/audit/log.key``, via :meth:`NoteSigner.sign`). The ``keyid`` is the key's name and
hex key hash as in its verifier key (``<name>+<hex>``): a hint, never trusted by itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from synthfactory.errors import NotFoundError, UserInputError
from synthfactory.provenance.canonical import canonical_json
from synthfactory.provenance.note import NoteSigner, load_verifier

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://synthfactory.dev/provenance/run/v1"
BUILDER_ID = "https://synthfactory.dev/builder/local/v1"
DSSE_PAYLOAD_TYPE = "application/vnd.in-toto+json"
PRODUCER = "https://synthfactory.dev/synthfactory/v0.1.0"
OPENLINEAGE_SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
OPENLINEAGE_NAMESPACE = "synthfactory"
RUN_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://synthfactory.dev/run")
LANCE_MEDIA_TYPE = "application/x-lance"

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

# Run states that are over; anything else (created, running) is still in progress.
_TERMINAL = {
    "finished": "COMPLETE",
    "exhausted": "FAIL",  # the item budget ran out before the target: not what was asked
    "stopped": "FAIL",
    "crashed": "FAIL",
    "interrupted": "ABORT",
}

CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
"""The standard JSON-LD ``@context`` of Croissant 1.0 (with the RAI prefix)."""


# -- shared reads ----------------------------------------------------------------------


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _public_url(url: str) -> str:
    """``url`` without user, password, query or fragment: none of them belongs in an export."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _public_endpoint(cfg: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in cfg.items() if k != "api_key"}
    if isinstance(out.get("url"), str):
        out["url"] = _public_url(out["url"])
    return out


class _RunView:
    """What the exports need of one run, read once from the workspace."""

    def __init__(self, workspace: Path, run_id: str) -> None:
        from synthfactory.ledger import Ledger
        from synthfactory.verify.qa import run_quality
        from synthfactory.verify.tiers import tier_stats
        from synthfactory.workspace import Workspace

        self.workspace = Workspace(workspace, create=False)
        ledger = Ledger(self.workspace.ledger_path)
        try:
            self.run = ledger.run(run_id)
            self.counts = ledger.counts(run_id)
            self.commits = ledger.commits(run_id)
            self.tiers = tier_stats(ledger.verdicts(run_id))
            # Ids and counts only: a verifier's reasons are content, and stay in the ledger.
            self.quality = run_quality(ledger, run_id).to_dict(reasons=False)
        finally:
            ledger.close()
        self.endpoints: dict[str, dict[str, Any]] = {
            role: _public_endpoint(cfg)
            for role, cfg in self.run.config.get("endpoints", {}).items()
        }

    @property
    def dataset_uri(self) -> str:
        return self.workspace.dataset_uri(self.run.dataset)

    def table(self) -> Any:
        """The run's rows (a ``pyarrow.Table``), empty if nothing was stored."""
        from synthfactory.store.lance import LanceStore

        return LanceStore(self.dataset_uri).read(run_id=self.run.run_id)

    def require_finished(self) -> None:
        if self.run.status not in _TERMINAL:
            raise UserInputError(
                f"run {self.run.run_id} is {self.run.status}; exports describe a finished run "
                "(wait for it, or resume it)"
            )


def rows_digest(rows: Iterable[Mapping[str, Any]]) -> str:
    """The hex SHA-256 of the canonical JSON of ``rows`` sorted by ``item_id`` (see the
    module docstring): the in-toto subject digest of a run's rows."""
    ordered = sorted((dict(r) for r in rows), key=lambda r: str(r["item_id"]))
    return hashlib.sha256(canonical_json(ordered)).hexdigest()


# -- in-toto / SLSA / DSSE ---------------------------------------------------------------


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
    view = _RunView(Path(workspace), run_id)
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
                "builder": {"id": BUILDER_ID, "version": {"synthfactory": _version()}},
                "metadata": {
                    "invocationId": run.run_id,
                    "startedOn": _rfc3339(run.created_at),
                    "finishedOn": _rfc3339(run.updated_at),
                },
                "byproducts": _checkpoint_byproduct(view.workspace.root),
            },
        },
    }


def _version() -> str:
    from synthfactory import __version__

    return __version__


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def dsse_envelope(statement: Mapping[str, Any], signer: NoteSigner) -> dict[str, Any]:
    """``statement`` in a DSSE envelope signed with ``signer``'s Ed25519 key."""
    body = canonical_json(statement)
    keyid = f"{signer.name}+{signer.verifier.key_id.hex()}"
    sig = signer.sign(pae(DSSE_PAYLOAD_TYPE, body))
    return {
        "payloadType": DSSE_PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}],
    }


def verify_dsse(envelope: Mapping[str, Any], public_key_path: Path | str) -> bool:
    """True when some signature of ``envelope`` verifies under the Ed25519 public key in
    ``public_key_path`` (a verifier key file, e.g. ``WORKSPACE/audit/log.key.pub``).

    A malformed envelope is False; an unreadable key raises :class:`NoteError`. The keyid
    is only a hint: every signature is checked against the key.
    """
    verifier = load_verifier(Path(public_key_path))
    try:
        payload_type = envelope["payloadType"]
        body = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
    except (KeyError, TypeError, binascii.Error):
        return False
    if not isinstance(payload_type, str):
        return False
    message = pae(payload_type, body)
    return any(verifier.verify(message, sig) for sig in signatures)


def envelope_statement(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The statement inside a DSSE envelope (unverified: call :func:`verify_dsse` first)."""
    value = orjson.loads(base64.b64decode(envelope["payload"], validate=True))
    if not isinstance(value, dict):
        raise UserInputError("the envelope's payload is not a JSON object")
    return value


# -- OpenLineage ---------------------------------------------------------------------------


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
    view = _RunView(Path(workspace), run_id)
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
            "eventTime": _rfc3339(at),
            "producer": PRODUCER,
            "schemaURL": OPENLINEAGE_SCHEMA_URL,
            "run": {"runId": run_uuid(run.run_id), "facets": {}},
            "job": dict(job),
            "inputs": [recipe_input],
            "outputs": [output],
        }

    events = [event("START", run.created_at)]
    final = _TERMINAL.get(run.status)
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


# -- Croissant ---------------------------------------------------------------------------


def _croissant_type(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "sc:Boolean"
    if pa.types.is_integer(arrow_type):
        return "sc:Integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "sc:Float"
    if pa.types.is_timestamp(arrow_type):
        return "sc:DateTime"
    if pa.types.is_date(arrow_type):
        return "sc:Date"
    return "sc:Text"  # strings, and anything else as its text form


def _croissant_field(field: Any, parent: str, column: str, path: str | None) -> dict[str, Any]:
    import pyarrow as pa

    field_id = f"{parent}/{field.name}"
    source: dict[str, Any] = {"fileObject": {"@id": "lance-table"}, "extract": {"column": column}}
    if path is not None:
        source["transform"] = {"jsonPath": path}
    out: dict[str, Any] = {"@type": "cr:Field", "@id": field_id, "name": field.name}
    kind = field.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        out["repeated"] = True
        kind = kind.value_type
    if pa.types.is_struct(kind):
        out["subField"] = [
            _croissant_field(
                child, field_id, column, f"{path}.{child.name}" if path else child.name
            )
            for child in kind
        ]
    else:
        out["dataType"] = _croissant_type(kind)
    out["source"] = source
    return out


def croissant_metadata(
    workspace: Path, dataset: str, *, license: str | None = None
) -> dict[str, Any]:
    """Croissant 1.0 JSON-LD for ``dataset``, with its responsible-AI (RAI) fields, from
    what the ledger knows of every run that wrote to it.

    The distribution is one ``cr:FileObject`` for the Lance table directory: its
    ``encodingFormat`` is ``application/x-lance`` (Lance has no registered media type) and
    it has no ``sha256``, because a Lance table is a versioned directory of fragments, not
    one file; the rows' integrity is the in-toto subject digest of each run instead.
    ``license`` is the dataset's license when the caller knows it; the models' licenses
    are stated in ``rai:dataCollection``, never taken for the dataset's own. The defect
    rate measured by acceptance sampling (``synthfactory qa``), per run, is stated in
    ``rai:dataAnnotationAnalysis`` (Croissant RAI 1.0: the analysis of the annotations'
    quality).
    """
    from synthfactory.ledger import Ledger
    from synthfactory.store.lance import LanceStore
    from synthfactory.verify.qa import run_quality
    from synthfactory.verify.tiers import tier_stats
    from synthfactory.workspace import Workspace

    ws = Workspace(Path(workspace), create=False)
    ledger = Ledger(ws.ledger_path)
    try:
        runs = [r for r in ledger.runs() if r.dataset == dataset]
        counts = [ledger.counts(r.run_id) for r in runs]
        verdicts = [v for r in runs for v in ledger.verdicts(r.run_id)]
        quality = [f"run {r.run_id}: {run_quality(ledger, r.run_id).describe()}" for r in runs]
    finally:
        ledger.close()
    if not runs:
        raise NotFoundError(f"no run in this workspace wrote dataset {dataset!r}")
    uri = ws.dataset_uri(dataset)
    table = LanceStore(uri).read()
    tiers = tier_stats(verdicts)

    recipes = sorted(
        {f"{r.recipe_name} v{r.recipe_version} (sha256:{r.recipe_digest})" for r in runs}
    )
    models: dict[str, str | None] = {}
    for r in runs:
        for cfg in r.config.get("endpoints", {}).values():
            name = str(cfg.get("model") or "unknown")
            models[name] = models.get(name) or cfg.get("license")
    model_text = (
        "; ".join(f"{m} (license: {lic or 'unknown'})" for m, lic in sorted(models.items()))
        or "no model"
    )
    generated = sum(sum(c.values()) for c in counts)
    stored = sum(c["stored"] for c in counts)
    rejected = sum(c["rejected"] for c in counts)
    failed = sum(c["failed"] for c in counts)
    tier_text = (
        "; ".join(
            f"tier {tier}: ran on {s['ran']} item(s), passed {s['passed']}, failed {s['failed']}, "
            f"skipped {s['skipped']}"
            for tier, s in sorted(tiers.items())
        )
        or "no verifier ran"
    )

    record_set = {
        "@type": "cr:RecordSet",
        "@id": dataset,
        "name": dataset,
        "description": f"One row per stored example of dataset {dataset}.",
        "key": {"@id": f"{dataset}/item_id"},
        "field": [_croissant_field(f, dataset, f.name, None) for f in table.schema],
    }
    metadata: dict[str, Any] = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": dataset,
        "description": (
            f"Synthetic dataset {dataset}: {stored} example(s) generated by synthfactory in "
            f"{len(runs)} run(s) of recipe(s) {', '.join(recipes)}."
        ),
        # Croissant wants MAJOR.MINOR.PATCH: the Lance table version is the major.
        "version": f"{LanceStore(uri).version() or 0}.0.0",
        "datePublished": _rfc3339(max(r.updated_at for r in runs)),
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": "lance-table",
                "name": f"{dataset}.lance",
                "description": "The Lance table directory (versioned; no single-file checksum).",
                "contentUrl": Path(uri).as_uri(),
                "encodingFormat": LANCE_MEDIA_TYPE,
            }
        ],
        "recordSet": [record_set],
        "rai:dataCollection": (
            f"Synthetic generation: synthfactory recipe(s) {', '.join(recipes)} sampled "
            f"inputs and prompted model(s) {model_text}; every step attempt is recorded in "
            "the workspace's signed audit log."
        ),
        "rai:dataCollectionType": "Synthetic data",
        "rai:dataCollectionRawData": "None: every row was generated by models from recipes.",
        "rai:personalSensitiveInformation": (
            "Not assessed: rows are model-generated and were not screened for personal or "
            "sensitive information by synthfactory; review them before release."
        ),
        "rai:dataBiases": (
            f"Inherits the biases of the generating model(s) ({model_text}) and of the "
            "recipe's prompts and samplers; not measured."
        ),
        "rai:dataLimitations": (
            f"Synthetic content, kept only if it passed the recipe's checks: of {generated} "
            f"item(s) generated, {stored} stored, {rejected} rejected by a verifier, {failed} "
            "failed. Checks are automated and do not guarantee correctness."
        ),
        "rai:annotationsPerItem": (
            "Each item carries one verdict per verifier tier it went through (or a record "
            f"that a sampled tier was skipped): {tier_text}."
        ),
        "rai:dataAnnotationProtocol": f"Automated tiered verification: {tier_text}.",
        "rai:dataAnnotationPlatform": "synthfactory verifiers (no human annotation)",
        "rai:dataAnnotationAnalysis": (
            "Acceptance sampling of stored examples by a stronger verifier (synthfactory qa): "
            "defect rate = defective / judged with its Wilson 95% interval. "
            + " ".join(f"{q}." for q in quality)
        ),
        "rai:machineAnnotationTools": sorted(models),
    }
    if license:
        metadata["license"] = license
    return metadata


def croissant_for_run(
    workspace: Path, run_id: str, *, license: str | None = None
) -> dict[str, Any]:
    """Croissant metadata of the dataset run ``run_id`` wrote to."""
    view = _RunView(Path(workspace), run_id)
    return croissant_metadata(Path(workspace), view.run.dataset, license=license)


__all__ = [
    "CROISSANT_CONTEXT",
    "DSSE_PAYLOAD_TYPE",
    "SLSA_PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "croissant_for_run",
    "croissant_metadata",
    "dsse_envelope",
    "envelope_statement",
    "intoto_statement",
    "openlineage_events",
    "pae",
    "rows_digest",
    "run_uuid",
    "verify_dsse",
]
