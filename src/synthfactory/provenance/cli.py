"""``synthfactory audit ...``: a thin typer layer over the provenance library.

Exit codes: 0 when everything verifies, 1 when a verification finds a problem (the first
one is printed), 2 for unusable input (missing file, unreadable key).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import orjson
import typer

from synthfactory.errors import SynthFactoryError
from synthfactory.provenance.bundle import verify_bundle
from synthfactory.provenance.explain import explain as explain_records
from synthfactory.provenance.log import SqliteAuditLog
from synthfactory.provenance.note import (
    generate_key,
    load_signer,
    load_verifier,
    public_key_path,
)
from synthfactory.provenance.verify import verify_log

app = typer.Typer(
    name="audit",
    help="The tamper-evident provenance log: verify it, explain items, export receipts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except SynthFactoryError as err:
        _fail(str(err), 2)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Where to write the private key (0600).")],
    name: Annotated[str, typer.Option("--name", help="Key name, e.g. the log's origin host.")],
) -> None:
    """Generate an Ed25519 signing key (mode 0600) and its public key beside it (.pub)."""
    with _errors():
        verifier = generate_key(out, name)
    typer.echo(f"private key: {out} (mode 0600, keep it secret)")
    typer.echo(f"public key:  {public_key_path(out)}")
    typer.echo(verifier.vkey())


WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", envvar="SYNTHFACTORY_WORKSPACE", help="The workspace whose log to use."
    ),
]
OptionalLogOpt = Annotated[
    Path | None,
    typer.Option("--log", help="An audit log file (default: WORKSPACE/audit/log.sqlite)."),
]
_DEFAULT_WORKSPACE = Path("synthfactory-workspace")


def _log_path(workspace: Path, log: Path | None) -> Path:
    path = log or workspace / "audit" / "log.sqlite"
    if not path.exists():
        _fail(f"no audit log at {path}; pass --workspace DIR (or --log FILE)", 2)
    return path


@app.command()
def verify(
    workspace: WorkspaceOpt = _DEFAULT_WORKSPACE,
    log: OptionalLogOpt = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The log's public key (default: WORKSPACE/audit/log.key.pub)."),
    ] = None,
    witness: Annotated[
        Path | None,
        typer.Option(
            "--witness",
            help="A witness directory: catches rollback and re-signing "
            "(default: WORKSPACE/audit/witness).",
        ),
    ] = None,
    witness_key: Annotated[
        Path | None,
        typer.Option("--witness-key", help="The witness's public key: require its cosignature."),
    ] = None,
    dataset: Annotated[
        bool, typer.Option(help="Also check every dataset row against its accept record.")
    ] = True,
) -> None:
    """Check the log, its checkpoints, the witness and the dataset rows all agree."""
    path = _log_path(workspace, log)
    audit_dir = workspace / "audit"
    key = key or audit_dir / "log.key.pub"
    # The workspace's witness and keys are defaults for the workspace's own log only: an
    # explicit --log elsewhere has its own (or none), and no dataset of ours to answer for.
    own_log = path.resolve() == (audit_dir / "log.sqlite").resolve()
    if own_log and witness is None and (audit_dir / "witness").is_dir():
        witness = audit_dir / "witness"
        if witness_key is None and (audit_dir / "witness.key.pub").exists():
            witness_key = audit_dir / "witness.key.pub"
    with _errors():
        report = verify_log(path, key, witness_state=witness, witness_key=witness_key)
    typer.echo(str(report))
    if not report.ok:
        raise typer.Exit(1)
    if witness is None:
        typer.echo(
            "note: without --witness, a rollback to an earlier checkpoint or a log rewritten "
            "and re-signed with the real key is not detectable"
        )
    if dataset and own_log and (workspace / "datasets").is_dir():
        from synthfactory.runtime.audit import check_dataset_rows
        from synthfactory.workspace import Workspace

        with _errors(), contextlib.closing(SqliteAuditLog(path)) as opened:
            problem = check_dataset_rows(Workspace(workspace, create=False), opened)
        if problem is not None:
            typer.echo(f"FAILED: {problem}")
            raise typer.Exit(1)
        typer.echo("dataset rows: every row matches its accept record")


@app.command()
def explain(
    item_id: Annotated[str, typer.Argument(help="The item whose story to tell.")],
    workspace: WorkspaceOpt = _DEFAULT_WORKSPACE,
    log: OptionalLogOpt = None,
) -> None:
    """Print an item's lineage: models, prompts, tools, checks, and why it was kept."""
    path = _log_path(workspace, log)
    with _errors(), contextlib.closing(SqliteAuditLog(path)) as audit:
        records = audit.records_for(item_id)
    if not records:
        _fail(f"no provenance record of item {item_id!r} in {path}", 2)
    typer.echo(explain_records(records))


@app.command()
def receipt(
    item_id: Annotated[str, typer.Argument(help="The item to export a receipt for.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the receipt (JSON).")],
    workspace: WorkspaceOpt = _DEFAULT_WORKSPACE,
    log: OptionalLogOpt = None,
) -> None:
    """Export an item's receipt: its records, inclusion proofs and the signed checkpoint."""
    path = _log_path(workspace, log)
    with _errors(), contextlib.closing(SqliteAuditLog(path)) as audit:
        data = audit.export_bundle(item_id)
    out.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    typer.echo(f"wrote {out}: {len(data['records'])} record(s) of item {item_id}")


@app.command("verify-receipt")
def verify_receipt(
    file: Annotated[Path, typer.Argument(help="A receipt written by `receipt`.")],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", "--key", help="Pin the log's public key (recommended)."),
    ] = None,
) -> None:
    """Check a receipt offline, needing nothing but the receipt and the public key."""
    with _errors():
        try:
            data = orjson.loads(file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as err:
            _fail(f"cannot read receipt {file}: {err}", 2)
        pinned = None if public_key is None else load_verifier(public_key)
        report = verify_bundle(data, public_key=pinned)
    typer.echo(str(report))
    if public_key is None and report.ok:
        typer.echo("note: checked against the receipt's own key; pass --public-key to pin it")
    if not report.ok:
        raise typer.Exit(1)


@app.command("export")
def export_run(
    run_id: Annotated[str, typer.Argument(help="The finished run to describe.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="intoto (a DSSE envelope signed with the workspace's log key), openlineage "
            "(RunEvents, one JSON object per line) or croissant (JSON-LD of the run's dataset).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the export.")],
    workspace: WorkspaceOpt = _DEFAULT_WORKSPACE,
    license: Annotated[
        str | None,
        typer.Option("--license", help="croissant: the dataset's license, when you know it."),
    ] = None,
) -> None:
    """Export a finished run as in-toto/SLSA (signed DSSE), OpenLineage or Croissant."""
    from synthfactory.provenance import exports

    with _errors():
        if fmt == "intoto":
            statement = exports.intoto_statement(workspace, run_id)
            signer = load_signer(workspace / "audit" / "log.key")
            data = orjson.dumps(
                exports.dsse_envelope(statement, signer), option=orjson.OPT_INDENT_2
            )
        elif fmt == "openlineage":
            events = exports.openlineage_events(workspace, run_id)
            data = b"".join(orjson.dumps(e) + b"\n" for e in events)
        elif fmt == "croissant":
            meta = exports.croissant_for_run(workspace, run_id, license=license)
            data = orjson.dumps(meta, option=orjson.OPT_INDENT_2)
        else:
            _fail(f"unknown format {fmt!r}; one of intoto, openlineage, croissant", 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({fmt}) for run {run_id}")


@app.command("verify-statement")
def verify_statement(
    file: Annotated[
        Path, typer.Argument(help="A DSSE envelope written by `export --format intoto`.")
    ],
    public_key: Annotated[
        Path,
        typer.Option(
            "--public-key", "--key", help="The log's public key (WORKSPACE/audit/log.key.pub)."
        ),
    ],
) -> None:
    """Check a signed in-toto statement offline against the workspace's public key."""
    from synthfactory.provenance import exports

    with _errors():
        try:
            envelope = orjson.loads(file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as err:
            _fail(f"cannot read envelope {file}: {err}", 2)
        if not isinstance(envelope, dict):
            _fail(f"{file} is not a DSSE envelope (a JSON object)", 2)
        ok = exports.verify_dsse(envelope, public_key)
    if not ok:
        typer.echo("FAILED: no signature in the envelope verifies with this key")
        raise typer.Exit(1)
    statement = exports.envelope_statement(envelope)
    subjects = ", ".join(
        f"{s.get('name')} sha256:{s.get('digest', {}).get('sha256')}"
        for s in statement.get("subject", [])
    )
    typer.echo(f"OK: {statement.get('predicateType')} statement of {subjects}")


__all__ = ["app"]
