"""The ``synthfactory`` command: a thin typer layer over the library.

Environment variables are read here and only here: ``SYNTHFACTORY_WORKSPACE`` (default
workspace) and the API keys named by an endpoint's ``key_env`` option (or
``SYNTHFACTORY_API_KEY_<ROLE>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from synthfactory import cli_endpoints
from synthfactory.cli_exits import exit_codes, option_error
from synthfactory.cli_tables import LiveProgress, print_qa, print_summary, stderr, stdout
from synthfactory.errors import ConfigError
from synthfactory.runtime.progress import RunSummary

app = typer.Typer(
    name="synthfactory",
    help="A synthetic-data factory: run recipes into verified, versioned datasets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="SYNTHFACTORY_WORKSPACE",
        help="Workspace directory (ledger, cache, datasets).",
    ),
]
EndpointOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--endpoint",
        "-e",
        help="ROLE=URL[,model=M,key_env=VAR,price_in=USD,price_out=USD,price_hour=USD,"
        "concurrency=N]; URL is an OpenAI-compatible base URL (.../v1). "
        "ROLE=fake starts the built-in fake server (for trying things out).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where steps run: local (this machine) or ray (actors on a Ray cluster; "
        "needs the ray extra).",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster to join: auto (on a node of it, as in a RayJob), or "
        "ray://HOST:10001 (needs ray[client]); default: start a local instance.",
    ),
]
RayConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--ray-config",
        help="YAML file sizing the Ray pools (see synthfactory.runtime.ray.RayConfig).",
    ),
]
DEFAULT_WORKSPACE = Path("synthfactory-workspace")


def _fail(message: str, code: int = 2) -> NoReturn:
    line = Text.assemble(("error:", "bold red"), " ", message)
    stderr().print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _errors() -> contextlib.AbstractContextManager[None]:
    return exit_codes(_fail)


def _drive(coro_factory: Any, *, as_json: bool, workspace: Path, hint: str | None = None) -> None:
    """Run a driver coroutine with a live display, SIGTERM handling and clear exit codes."""
    started: list[str] = []
    console = stderr()
    show_live = not as_json and console.is_terminal
    live = LiveProgress(console) if show_live else None

    async def main() -> RunSummary:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        result: RunSummary = await coro_factory(live, started.append)
        return result

    try:
        with live if live is not None else contextlib.nullcontext():
            summary = asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        run = started[0] if started else "RUN_ID"
        console.print(
            f"interrupted; resume with: synthfactory resume {run} --workspace {workspace}"
        )
        raise typer.Exit(130) from None
    print_summary(summary, as_json, workspace)
    if hint and not as_json:
        stdout().print(hint, highlight=False)
    if summary.status != "finished":
        raise typer.Exit(1)


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="A .py or .yaml recipe path, or a built-in name.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    target: Annotated[int, typer.Option(help="Usable examples to make.", min=1)] = 100,
    seed: Annotated[int, typer.Option(help="Run seed: same seed, same items.")] = 0,
    endpoint: EndpointOpt = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight per endpoint (default 64).", min=1)
    ] = None,
    max_items: Annotated[
        int | None, typer.Option(help="Most items to try in all (default 10x target + 100).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset name (default: the recipe's).")
    ] = None,
    replay: Annotated[
        bool, typer.Option(help="Every model call must come from the cache; a miss is an error.")
    ] = False,
    fail_fast: Annotated[bool, typer.Option(help="Stop at the first failed model call.")] = False,
    max_defect_rate: Annotated[
        float | None,
        typer.Option(
            help="Quality SLA, e.g. 0.05: the run is releasable only once a qa sample puts "
            "the 95% upper bound of its defect rate at or below this (see synthfactory qa)."
        ),
    ] = None,
    allow_weak_isolation: Annotated[
        bool,
        typer.Option(
            help="Run sandbox steps even where this host lacks the minimum isolation layers. "
            "Only for code you trust."
        ),
    ] = False,
    strict_verifiers: Annotated[
        bool,
        typer.Option(
            help="Stop the run when a verifier tier's canary catch rate falls below its floor "
            "(a tier that cannot tell bad from good examples)."
        ),
    ] = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    ray_config: RayConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run RECIPE until TARGET usable examples are stored."""
    from synthfactory.runtime.config import RunConfig
    from synthfactory.runtime.runs import run_recipe

    with _errors():
        specs = endpoint or cli_endpoints.default_endpoints(recipe, replay)
    hint = None
    if not endpoint and specs:
        roles = " ".join(f"--endpoint {s.partition('=')[0]}=http://HOST:PORT/v1" for s in specs)
        hint = (
            f"same recipe on real endpoints: synthfactory run {recipe} {roles} "
            "(options: ,model=NAME,key_env=VAR,price_in=USD,price_out=USD)"
        )
    with _errors(), cli_endpoints.endpoints(specs, concurrency) as given:
        endpoints = (
            [e.model_copy(update={"fail_fast": True}) for e in given] if fail_fast else given
        )
        try:
            config = RunConfig(
                target=target,
                seed=seed,
                max_items=max_items,
                replay=replay,
                dataset=dataset,
                strict_verifiers=strict_verifiers,
                max_defect_rate=max_defect_rate,
            )
        except ValidationError as err:
            raise option_error(err) from None
        steps_on = cli_endpoints.executor(
            executor,
            ray_address=ray_address,
            ray_config=ray_config,
            allow_weak_isolation=allow_weak_isolation,
        )

        def start(observer: Any, on_start: Any) -> Any:
            return run_recipe(
                recipe,
                workspace=workspace,
                config=config,
                endpoints=endpoints,
                observer=observer,
                on_start=on_start,
                executor=steps_on,
            )

        _drive(start, as_json=as_json, workspace=workspace, hint=hint)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to carry on.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    endpoint: EndpointOpt = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight per endpoint.")
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="Where steps run: local or ray; default: where the run's steps ran before.",
        ),
    ] = None,
    ray_address: RayAddressOpt = None,
    ray_config: RayConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Carry on RUN_ID from exactly where it stopped (Ctrl-C, kill -9, endpoint down)."""
    from synthfactory.runtime.runs import resume_run

    with _errors():
        if executor is not None:
            steps_on = cli_endpoints.executor(
                executor, ray_address=ray_address, ray_config=ray_config
            )
        elif ray_address is not None or ray_config is not None:
            steps_on = cli_endpoints.resumed_executor(
                workspace, run_id, ray_address=ray_address, ray_config=ray_config
            )
        else:
            steps_on = None  # where the run's steps ran before (resume_run decides)
    with _errors(), cli_endpoints.endpoints(endpoint, concurrency) as given:

        def start(observer: Any, on_start: Any) -> Any:
            on_start(run_id)
            return resume_run(
                run_id,
                workspace=workspace,
                endpoints=given,
                env=os.environ,
                concurrency=concurrency,
                observer=observer,
                executor=steps_on,
            )

        _drive(start, as_json=as_json, workspace=workspace)


@app.command()
def status(
    run_id: Annotated[str | None, typer.Argument(help="A run id; all runs if omitted.")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    failed: Annotated[
        bool, typer.Option("--failed", help="List failed and rejected items.")
    ] = False,
    as_json: JsonOpt = False,
    embedder: Annotated[
        str | None,
        typer.Option(
            help="Measure the diversity report's spread on embeddings: 'local' (MiniLM, the "
            "embed extra) or an OpenAI-compatible base URL; default: lexical vectors."
        ),
    ] = None,
    embedding_model: Annotated[
        str, typer.Option(help="Model name sent to a URL --embedder.")
    ] = "text-embedding-3-small",
) -> None:
    """Show runs, or one run's counts, cost, diversity and (with --failed) failed items."""
    from synthfactory import reports

    with _errors():
        if run_id is None:
            runs = reports.list_runs(workspace)
            if as_json:
                sys.stdout.write(orjson.dumps(runs, option=orjson.OPT_INDENT_2).decode() + "\n")
                return
            table = Table()
            table.add_column("run", no_wrap=True)
            for column in ("recipe", "status", "stored/target", "created (UTC)"):
                table.add_column(column)
            for r in runs:
                table.add_row(
                    r["run_id"],
                    r["recipe"],
                    r["status"],
                    f"{r['stored']}/{r['target']}",
                    r["created"],
                )
            stdout().print(table)
            return
        chosen = None
        if embedder is not None:
            from synthfactory.dedup.cli import resolve_embedder

            chosen = resolve_embedder(embedder, embedding_model)
        report = reports.run_report(workspace, run_id, failed=failed, embedder=chosen)
        if as_json:
            sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
            return
        summary = RunSummary(**{k: report[k] for k in RunSummary.__dataclass_fields__})
        print_summary(summary, False, workspace)
        if failed:
            table = Table("item", "state", "attempts", "error")
            for item in report["failed_items"]:
                table.add_row(item["item_id"], item["state"], str(item["attempts"]), item["error"])
            stdout().print(table)


@app.command()
def show(
    item_id: Annotated[str, typer.Argument(help="An item id, as `status --failed` lists them.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
) -> None:
    """Show one item: payload, state, verdicts and every step attempt (as JSON)."""
    from synthfactory import reports

    with _errors():
        report = reports.item_report(workspace, item_id)
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command()
def export(
    source: Annotated[str, typer.Argument(help="A run id, or a dataset name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (directory for hf).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl, parquet or hf.")] = "jsonl",
    version: Annotated[int | None, typer.Option(help="Dataset version (default latest).")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
) -> None:
    """Export a run's rows or a whole dataset to JSONL, Parquet or a Hugging Face dataset."""
    from synthfactory import reports

    with _errors():
        path, rows = reports.export(workspace, source, fmt, out, version=version)
        stderr().print(f"wrote {rows} rows to {path}")


VERIFIER_HELP = (
    "Who re-checks: ROLE=URL[,model=M,key_env=VAR,...] (a stronger model at an "
    "OpenAI-compatible endpoint, same syntax as --endpoint; ROLE=fake and ROLE=local:MODEL "
    "too), python=module:function (your own checker: payload -> bool or Verdict), or human "
    "(you, answering y/n/s in the terminal)."
)


@app.command()
def qa(
    run_id: Annotated[str, typer.Argument(help="The run whose stored examples to re-check.")],
    sample: Annotated[
        int,
        typer.Option(
            "--sample",
            "-n",
            help="How many stored examples this verifier has not checked yet to check now; "
            "each call grows the sample.",
        ),
    ],
    verifier: Annotated[str, typer.Option("--verifier", help=VERIFIER_HELP)],
    seed: Annotated[
        int, typer.Option(help="Sample seed: the same seed draws the same items in the same order.")
    ] = 0,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Re-check a seeded random sample of RUN_ID's stored examples with a stronger verifier,
    and state the run's defect rate (Wilson 95% interval) and whether it is releasable."""
    from synthfactory.verify.qa import audit_quality
    from synthfactory.verify.qa_verifiers import HumanVerifier, PythonVerifier

    with _errors():
        if sample < 1:
            raise ConfigError(f"--sample must be at least 1, got {sample}")
        spec = verifier.strip()
        kind, sep, rest = spec.partition("=")
        try:
            if spec == "human":
                chosen: Any = HumanVerifier(sys.stdin, sys.stderr)
                report = asyncio.run(
                    audit_quality(workspace, run_id, sample=sample, verifier=chosen, seed=seed)
                )
            elif kind.strip() == "python" and sep:
                chosen = PythonVerifier.from_ref(rest.strip())
                report = asyncio.run(
                    audit_quality(workspace, run_id, sample=sample, verifier=chosen, seed=seed)
                )
            elif sep and kind.strip() and rest.strip():
                report = _qa_with_model(workspace, run_id, spec, sample=sample, seed=seed)
            else:
                raise ConfigError(
                    f"--verifier {verifier!r}: expected ROLE=URL[,model=...,key_env=...], "
                    "python=module:function, or human"
                )
        except KeyboardInterrupt:
            stderr().print(
                "\ninterrupted; the checks made so far are kept: run the same qa command "
                "again to carry on",
                highlight=False,
            )
            raise typer.Exit(130) from None
    if as_json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    print_qa(report)


def _qa_with_model(workspace: Path, run_id: str, spec: str, *, sample: int, seed: int) -> Any:
    from synthfactory.verify.qa import audit_quality
    from synthfactory.verify.qa_verifiers import open_model_verifier

    with cli_endpoints.endpoints([spec], None) as given:
        endpoint = given[0]

        async def check() -> Any:
            async with open_model_verifier(workspace, run_id, endpoint) as model:
                return await audit_quality(
                    workspace,
                    run_id,
                    sample=sample,
                    verifier=model,
                    seed=seed,
                    concurrency=min(endpoint.concurrency, 16),
                )

        return asyncio.run(check())


def _mount_subcommands() -> None:
    from synthfactory.dedup.cli import dedup
    from synthfactory.doctor.cli import doctor
    from synthfactory.provenance.cli import app as audit_app
    from synthfactory.provenance.cli import explain as explain_item
    from synthfactory.sandbox.cli import app as sandbox_app

    app.add_typer(audit_app, name="audit")
    app.add_typer(sandbox_app, name="sandbox")
    app.command("explain")(explain_item)
    app.command("dedup")(dedup)
    app.command("doctor")(doctor)


_mount_subcommands()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
