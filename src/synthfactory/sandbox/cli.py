"""``synthfactory sandbox``: the batch command, a thin layer over :func:`exec_jobs`.

Mounted in the main CLI as ``synthfactory sandbox``; runnable alone as
``python -m synthfactory.sandbox.cli``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from synthfactory.cli_exits import exit_codes
from synthfactory.errors import UserInputError
from synthfactory.sandbox.protocol import Sandbox
from synthfactory.sandbox.results import SandboxJob

app = typer.Typer(
    name="sandbox",
    help="Run untrusted Python in the hardened sandbox pool.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: The keys of one output line, in order.
OUTPUT_KEYS = ("id", "verdict", "exit_code", "stdout", "stderr", "cpu_ms", "wall_ms", "isolation")


def read_jobs(path: Path) -> list[SandboxJob]:
    """Jobs from a JSON-lines file: one ``{"id", "code", "timeout_s"}`` per line."""
    jobs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise UserInputError(f"cannot read {path}: {err}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            jobs.append(SandboxJob.from_dict(data))
        except (ValueError, KeyError, TypeError) as err:
            raise UserInputError(
                f"{path}:{number}: not a job line ({type(err).__name__}: {err}); "
                'expected {"id": ..., "code": ..., "timeout_s": ...}'
            ) from None
    return jobs


def _batches(jobs: list[SandboxJob], size: int) -> Iterator[list[SandboxJob]]:
    for start in range(0, len(jobs), size):
        yield jobs[start : start + size]


def exec_jobs(
    input_path: Path, output_path: Path, sandbox: Sandbox, *, batch: int = 256
) -> dict[str, int]:
    """Run every job of ``input_path`` on ``sandbox``; write one verdict line per job to
    ``output_path`` (in input order, flushed batch by batch). Returns counts by verdict."""
    jobs = read_jobs(input_path)
    counts: dict[str, int] = {}
    with output_path.open("w", encoding="utf-8") as out:
        for chunk in _batches(jobs, batch):
            for result in sandbox.run(chunk):
                data = result.to_dict()
                line = {key: data[key] for key in OUTPUT_KEYS}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                counts[result.verdict] = counts.get(result.verdict, 0) + 1
            out.flush()
    return counts


@app.command("exec")
def exec_command(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help='JSON lines, one job each: {"id", "code", "timeout_s"}.'
        ),
    ],
    output_path: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help='Where to write one verdict per line: {"id", "verdict", "exit_code", '
            '"stdout", "stderr", "cpu_ms", "wall_ms", "isolation"}.',
        ),
    ],
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-n", min=1, help="Sandbox slots (default: CPU count)."),
    ] = None,
    allow_weak_isolation: Annotated[
        bool,
        typer.Option(
            "--allow-weak-isolation",
            help="Run even where too few isolation layers exist. Only for trusted code.",
        ),
    ] = False,
) -> None:
    """Run Python jobs in the sandbox pool and write their verdicts."""
    from synthfactory.sandbox.pool import SandboxPool

    with (
        exit_codes(),
        SandboxPool(workers, allow_weak_isolation=allow_weak_isolation) as pool,
    ):
        counts = exec_jobs(input_path, output_path, pool)
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no jobs"
    typer.echo(f"{sum(counts.values())} jobs: {summary}", err=True)


@app.command("layers")
def layers_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Probe and print the isolation layers this host offers."""
    from synthfactory.sandbox.detect import detect_isolation

    report = detect_isolation()
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    for layer in report.layers:
        typer.echo(f"yes  {layer}")
    for layer, why in report.missing.items():
        typer.echo(f"no   {layer}: {why}")
    typer.echo(f"minimum for untrusted code: {'met' if report.meets_minimum else 'NOT met'}")


if __name__ == "__main__":  # pragma: no cover
    app()
