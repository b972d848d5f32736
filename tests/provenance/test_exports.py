"""Exports of a finished run: signed in-toto/SLSA, OpenLineage and Croissant, secret-free."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import SecretStr
from typer.main import get_command
from typer.testing import CliRunner

from synthfactory.cli import app as main_app
from synthfactory.ledger import Ledger
from synthfactory.models.endpoint import EndpointConfig
from synthfactory.provenance import exports
from synthfactory.provenance.cli import app
from synthfactory.provenance.note import generate_key, load_signer
from synthfactory.runtime.config import RunConfig
from synthfactory.runtime.runs import run_recipe
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer
from synthfactory.workspace import Workspace

SECRET = "sk-test-XYZ-exports-4f1c9a"
runner = CliRunner()


@dataclass(frozen=True)
class FinishedRun:
    """A real, small run of the ``hello`` recipe against the fake server."""

    workspace: Path
    run_id: str
    stored: int
    columns: list[str]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    ws = tmp_path_factory.mktemp("exports") / "ws"
    endpoint_kw: dict[str, Any] = {"api_key": SecretStr(SECRET), "license": "Apache-2.0"}
    with FakeServer() as server:
        endpoint = EndpointConfig(role="generator", url=server.url, **endpoint_kw)
        summary = asyncio.run(
            run_recipe("hello", workspace=ws, config=RunConfig(target=5), endpoints=[endpoint])
        )
    assert summary.status == "finished" and summary.stored == 5
    ledger = Ledger(Workspace(ws, create=False).ledger_path)
    try:
        stored = ledger.counts(summary.run_id)["stored"]
    finally:
        ledger.close()
    table = LanceStore(Workspace(ws, create=False).dataset_uri(summary.dataset)).read()
    return FinishedRun(ws, summary.run_id, stored, table.schema.names)


def _signed(run: FinishedRun) -> dict[str, Any]:
    statement = exports.intoto_statement(run.workspace, run.run_id)
    return exports.dsse_envelope(statement, load_signer(run.workspace / "audit" / "log.key"))


def test_dsse_envelope_verifies_and_catches_tampering(
    finished: FinishedRun, tmp_path: Path
) -> None:
    envelope = _signed(finished)
    pub = finished.workspace / "audit" / "log.key.pub"
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert exports.verify_dsse(envelope, pub)

    statement = orjson.loads(base64.b64decode(envelope["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    edited = {**envelope, "payload": base64.b64encode(orjson.dumps(statement)).decode()}
    assert not exports.verify_dsse(edited, pub)

    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 1
    bad_sig = {**envelope, "signatures": [{**envelope["signatures"][0], "sig": ""}]}
    bad_sig["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    assert not exports.verify_dsse(bad_sig, pub)

    assert not exports.verify_dsse({**envelope, "payloadType": "text/plain"}, pub)

    other = tmp_path / "other.key"
    generate_key(other, "other.key")
    assert not exports.verify_dsse(envelope, tmp_path / "other.key.pub")


def test_statement_is_slsa_provenance_of_the_run(finished: FinishedRun) -> None:
    statement = exports.intoto_statement(finished.workspace, finished.run_id)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"][0]["name"] == f"hello@{finished.run_id}"
    build = statement["predicate"]["buildDefinition"]
    assert build["externalParameters"]["recipe"]["name"] == "hello"
    assert build["externalParameters"]["target"] == 5
    models = [d for d in build["resolvedDependencies"] if d["name"].startswith("model:")]
    assert models == [
        {
            "name": "model:fake-model",
            "uri": "urn:synthfactory:model:fake-model",
            "annotations": models[0]["annotations"],
        }
    ]
    assert models[0]["annotations"]["license"] == "Apache-2.0"
    details = statement["predicate"]["runDetails"]
    assert details["metadata"]["invocationId"] == finished.run_id
    assert details["metadata"]["startedOn"].endswith("Z")
    assert details["metadata"]["startedOn"] <= details["metadata"]["finishedOn"]
    note = base64.b64decode(details["byproducts"][0]["content"]).decode()
    assert note.startswith("synthfactory/") and "\n\n\u2014 log." in note


def test_subject_digest_recomputes_from_the_jsonl_export(
    finished: FinishedRun, tmp_path: Path
) -> None:
    out = tmp_path / "run.jsonl"
    args = ["export", finished.run_id, "--format", "jsonl", "--out", str(out)]
    result = runner.invoke(main_app, [*args, "--workspace", str(finished.workspace)])
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(rows) == finished.stored
    rows.sort(key=lambda row: row["item_id"])
    want = hashlib.sha256(orjson.dumps(rows, option=orjson.OPT_SORT_KEYS)).hexdigest()
    statement = exports.intoto_statement(finished.workspace, finished.run_id)
    assert statement["subject"][0]["digest"] == {"sha256": want}


def test_no_secret_in_any_export(finished: FinishedRun) -> None:
    envelope = _signed(finished)
    texts = [
        orjson.dumps(envelope),
        base64.b64decode(envelope["payload"]),
        orjson.dumps(exports.openlineage_events(finished.workspace, finished.run_id)),
        orjson.dumps(exports.croissant_for_run(finished.workspace, finished.run_id)),
    ]
    for text in texts:
        assert b"sk-test-XYZ" not in text
        assert b'api_key"' not in text


def test_openlineage_events(finished: FinishedRun) -> None:
    events = exports.openlineage_events(finished.workspace, finished.run_id)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    run_uuid = uuid.UUID(events[0]["run"]["runId"])
    assert run_uuid.version == 5
    assert run_uuid == uuid.uuid5(exports.RUN_UUID_NAMESPACE, finished.run_id)
    for event in events:
        assert event["schemaURL"] == (
            "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
        )
        assert event["producer"] and event["eventTime"].endswith("Z")
        assert event["run"]["runId"] == str(run_uuid)
        assert event["job"] == {"namespace": "synthfactory", "name": "hello"}
        assert event["inputs"][0]["name"].startswith("recipe/hello@")
    output = events[-1]["outputs"][0]
    root = Workspace(finished.workspace, create=False).root
    assert output["namespace"] == f"file://{root}"
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == finished.stored
    fields = output["facets"]["schema"]["fields"]
    assert [f["name"] for f in fields] == finished.columns
    answer = next(f for f in fields if f["name"] == "answer")
    assert [f["name"] for f in answer["fields"]] == ["fact", "confidence"]


def test_croissant_metadata(finished: FinishedRun) -> None:
    meta = exports.croissant_metadata(finished.workspace, "hello", license="CC-BY-4.0")
    assert meta["@context"] == exports.CROISSANT_CONTEXT
    assert meta["@context"]["rai"] == "http://mlcommons.org/croissant/RAI/"
    assert meta["@context"]["@vocab"] == "https://schema.org/"
    assert meta["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert meta["license"] == "CC-BY-4.0"
    assert meta["rai:dataCollectionType"] == "Synthetic data"
    for key in (
        "rai:dataCollection",
        "rai:personalSensitiveInformation",
        "rai:dataBiases",
        "rai:dataLimitations",
        "rai:annotationsPerItem",
    ):
        assert isinstance(meta[key], str) and meta[key], key
    assert "fake-model" in meta["rai:dataCollection"]
    assert "tier cheap: ran on 5" in meta["rai:annotationsPerItem"]
    (dist,) = meta["distribution"]
    assert dist["@type"] == "cr:FileObject" and "sha256" not in dist
    (record_set,) = meta["recordSet"]
    fields = record_set["field"]
    assert [f["name"] for f in fields] == finished.columns
    by_name = {f["name"]: f for f in fields}
    assert by_name["topic"]["dataType"] == "sc:Text"
    assert [f["name"] for f in by_name["answer"]["subField"]] == ["fact", "confidence"]
    assert "license" not in exports.croissant_metadata(finished.workspace, "hello")


def test_new_commands_have_help_text() -> None:
    commands = get_command(app).commands  # type: ignore[attr-defined]
    for name in ("export", "verify-statement"):
        command = commands[name]
        assert command.help, name
        for param in command.params:
            assert getattr(param, "help", None), f"{name} {param.name}"


def test_cli_export_and_verify_statement(finished: FinishedRun, tmp_path: Path) -> None:
    ws = ["--workspace", str(finished.workspace)]
    pub = str(finished.workspace / "audit" / "log.key.pub")
    envelope = tmp_path / "run.dsse.json"
    args = ["export", finished.run_id, "--format", "intoto", "--out", str(envelope), *ws]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["verify-statement", str(envelope), "--public-key", pub])
    assert result.exit_code == 0, result.output
    assert f"hello@{finished.run_id}" in result.output

    data = orjson.loads(envelope.read_bytes())
    statement = orjson.loads(base64.b64decode(data["payload"]))
    statement["predicate"]["buildDefinition"]["externalParameters"]["target"] = 500
    data["payload"] = base64.b64encode(orjson.dumps(statement)).decode()
    envelope.write_bytes(orjson.dumps(data))
    result = runner.invoke(app, ["verify-statement", str(envelope), "--public-key", pub])
    assert result.exit_code == 1 and "FAILED" in result.output

    lineage = tmp_path / "events.jsonl"
    args = ["export", finished.run_id, "-f", "openlineage", "-o", str(lineage), *ws]
    assert runner.invoke(app, args).exit_code == 0
    assert [orjson.loads(x)["eventType"] for x in lineage.read_bytes().splitlines()] == [
        "START",
        "COMPLETE",
    ]

    croissant = tmp_path / "croissant.json"
    args = ["export", finished.run_id, "-f", "croissant", "-o", str(croissant), *ws]
    assert runner.invoke(app, args).exit_code == 0
    assert orjson.loads(croissant.read_bytes())["name"] == "hello"

    result = runner.invoke(app, ["export", finished.run_id, "-f", "spdx", "-o", "x", *ws])
    assert result.exit_code == 2
    result = runner.invoke(app, ["export", "run-nope", "-f", "intoto", "-o", "x", *ws])
    assert result.exit_code == 2
