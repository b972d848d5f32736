"""Croissant 1.0 JSON-LD, with its responsible-AI (RAI) fields, for a dataset or the
dataset a run wrote to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthfactory.errors import NotFoundError
from synthfactory.provenance.exports.run_view import RunView, rfc3339

LANCE_MEDIA_TYPE = "application/x-lance"

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
    from synthfactory.verify.quality import run_quality
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
        "datePublished": rfc3339(max(r.updated_at for r in runs)),
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
    view = RunView(Path(workspace), run_id)
    return croissant_metadata(Path(workspace), view.run.dataset, license=license)


__all__ = ["CROISSANT_CONTEXT", "LANCE_MEDIA_TYPE", "croissant_for_run", "croissant_metadata"]
