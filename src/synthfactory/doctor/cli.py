"""``synthfactory doctor``: a thin typer layer over :mod:`synthfactory.doctor`.

Exit codes: 0 when nothing is wrong (notes aside; after ``--repair``, when nothing is left
wrong), 1 when something is, 2 when the directory is not a workspace.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from synthfactory.cli_exits import exit_codes
from synthfactory.doctor import Finding, Repair, check_workspace, problems, repair


def _say(findings: list[Finding]) -> None:
    for f in findings:
        label = "note   " if f.note else "PROBLEM"
        typer.echo(f"{label} {f.where}: {f.what}")
        typer.echo(f"        to do: {f.todo}")
        if f.repair is not None:
            typer.echo(f"        --repair: {f.repair}")


def _said(repairs: list[Repair]) -> None:
    for r in repairs:
        if not r.ok:
            typer.echo(f"NOT REPAIRED {r.where}: {r.done}")
            continue
        where = "recorded in the audit log" if r.logged else f"not recorded: {r.why_not}"
        typer.echo(f"repaired {r.where}: {r.done} ({where})")


def _summary(workspace: Path, findings: list[Finding]) -> str:
    wrong = problems(findings)
    if not wrong:
        return f"OK: every store of {workspace} is sound"
    fixable = sum(1 for f in wrong if f.repairable)
    hint = f", {fixable} repairable with --repair" if fixable else ""
    return f"FAILED: {len(wrong)} problem(s) in {workspace}{hint}"


def doctor(
    workspace: Annotated[
        Path,
        typer.Option(
            "--workspace",
            "-w",
            envvar="SYNTHFACTORY_WORKSPACE",
            help="The workspace to check (ledger, cache, audit log, datasets).",
        ),
    ] = Path("synthfactory-workspace"),
    fix: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Fix what can be fixed without losing a verified record (quarantine bad "
            "cache entries, roll a dataset back to the last version the ledger knows, delete "
            "stale temporary and lock files, rebuild stale indexes), record each fix in the "
            "audit log, then check again.",
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Slower, deeper: SQLite's integrity_check (every index against its table) "
            "instead of quick_check, and Lance's own validation of each table.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Check every store of a workspace; with --repair, fix what can be fixed safely."""
    with exit_codes():
        findings = check_workspace(workspace, full=full)
        repairs: list[Repair] = []
        after = findings
        if fix and any(f.repairable for f in problems(findings)):
            repairs = repair(workspace, findings)
            after = check_workspace(workspace, full=full)
    if as_json:
        out = {
            "workspace": str(workspace),
            "ok": not problems(after),
            "findings": [f.to_dict() for f in findings],
            "repairs": [r.to_dict() for r in repairs],
            "after_repair": [f.to_dict() for f in after] if fix else None,
        }
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _say(findings)
        if repairs:
            _said(repairs)
            typer.echo("after repair:")
            _say(after)
        typer.echo(_summary(workspace, after))
    if problems(after):
        raise typer.Exit(1)


__all__ = ["doctor"]
