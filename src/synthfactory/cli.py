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
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from synthfactory.cli_exits import exit_codes
from synthfactory.errors import ConfigError
from synthfactory.models.endpoint import EndpointConfig, parse_endpoint
from synthfactory.runtime.progress import Progress, RunSummary

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


def _stdout() -> Console:
    return Console()


def _stderr() -> Console:
    return Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    _stderr().print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _errors() -> contextlib.AbstractContextManager[None]:
    return exit_codes(_fail)


@contextlib.contextmanager
def _endpoints(specs: list[str] | None, concurrency: int | None) -> Iterator[list[EndpointConfig]]:
    """Parse --endpoint options, read keys from the environment, and bring up the endpoints
    that are not URLs: ``ROLE=fake`` (the fake server) and ``ROLE=local:MODEL`` (the
    embedded model, started on 127.0.0.1 and stopped when the block ends)."""
    defaults: dict[str, Any] = {} if concurrency is None else {"concurrency": concurrency}
    with contextlib.ExitStack() as stack:
        configs: dict[int, EndpointConfig] = {}
        local: list[tuple[int, str]] = []
        for index, spec in enumerate(specs or []):
            role, _, rest = spec.partition("=")
            target, _, options = rest.partition(",")
            if target.strip() == "local:minilm":
                from synthfactory.runtime.dedup_gate import local_embedder_endpoint

                configs[index] = local_embedder_endpoint(role.strip())
                continue
            if target.strip().startswith("local:"):
                local.append((index, spec))
                continue
            resolved, origin = spec, None
            if target.strip() == "fake":
                from synthfactory.testing import FakeServer, FakeServerConfig

                server = stack.enter_context(FakeServer(FakeServerConfig(latency_s=0.05)))
                resolved = f"{role}={server.url}" + (f",{options}" if options else "")
                origin = "fake"
            config = parse_endpoint(resolved, defaults=defaults)
            configs[index] = _with_key(config.model_copy(update={"origin": origin}))
        if local:
            from synthfactory.local.endpoints import local_endpoints
            from synthfactory.local.weights import default_cache_dir

            started = stack.enter_context(
                local_endpoints(
                    [spec for _, spec in local],
                    cache_dir=default_cache_dir(os.environ),
                    defaults=defaults,
                )
            )
            for (index, spec), config in zip(local, started, strict=True):
                origin = spec.partition("=")[2]
                configs[index] = config.model_copy(update={"origin": origin})
        yield [configs[i] for i in sorted(configs)]


def _default_endpoints(recipe: str, replay: bool) -> list[str]:
    """No --endpoint: every role the recipe calls goes to the embedded local model."""
    if replay:
        return []  # replay needs no endpoint at all
    from synthfactory.local.endpoints import DEFAULT_LOCAL_MODEL, default_local_specs
    from synthfactory.recipe.loader import resolve_recipe

    loaded = resolve_recipe(recipe)[0]
    embedders = {s.embedder for s in loaded.dedup_steps if s.method == "semantic"}
    roles = loaded.roles - embedders
    if roles:
        _stderr().print(
            f"no --endpoint given: using the embedded model local:{DEFAULT_LOCAL_MODEL} for "
            f"{', '.join(sorted(roles))} (point a role elsewhere with --endpoint ROLE=URL)",
            highlight=False,
        )
    # Semantic dedup embeds with all-MiniLM-L6-v2 in process (the embed extra).
    return default_local_specs(roles) + [f"{role}=local:minilm" for role in sorted(embedders)]


def _with_key(config: EndpointConfig) -> EndpointConfig:
    env = config.api_key_env or f"SYNTHFACTORY_API_KEY_{config.role.upper()}"
    key = os.environ.get(env)
    if config.api_key_env and not key:
        raise ConfigError(
            f"endpoint {config.role!r} names key_env={env}, "
            "but that environment variable is not set"
        )
    return config.model_copy(update={"api_key": SecretStr(key)}) if key else config


class _LiveProgress:
    """A rich live panel fed by the run driver's progress snapshots."""

    def __init__(self, console: Console) -> None:
        from rich.live import Live

        self._live = Live(console=console, auto_refresh=False, transient=False)
        self._last: Progress | None = None

    def __enter__(self) -> _LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def __call__(self, p: Progress) -> None:
        rate = p.model_calls / p.elapsed_s if p.elapsed_s > 0 else 0.0
        pass_rate = "-" if p.pass_rate is None else f"{p.pass_rate:.0%}"
        eta = "-" if p.eta_s is None else f"{p.eta_s:.0f}s"
        table = Table(title=f"run {p.run_id}", show_header=False, box=None)
        table.add_row("usable", f"{p.usable}/{p.target} (stored {p.stored})")
        table.add_row("failed", f"{p.failed} failed, {p.rejected} rejected")
        table.add_row("in flight", str(p.in_flight))
        table.add_row("pass rate", pass_rate)
        table.add_row("requests", f"{p.model_calls} ({rate:.1f}/s), cache hits {p.cache_hits}")
        table.add_row("tokens", f"{p.prompt_tokens} in, {p.completion_tokens} out")
        table.add_row("cost", f"${p.cost:.4f}")
        table.add_row("elapsed / ETA", f"{p.elapsed_s:.0f}s / {eta}")
        self._live.update(table, refresh=True)


def _executor(
    name: str,
    *,
    ray_address: str | None,
    ray_config: Path | None,
    allow_weak_isolation: bool = False,
) -> Any:
    """The one place executor names are resolved."""
    if name == "local":
        if ray_address is not None or ray_config is not None:
            raise ConfigError("--ray-address and --ray-config need --executor ray")
        from synthfactory.runtime.local import LocalExecutor

        return LocalExecutor(allow_weak_isolation=allow_weak_isolation)
    if name == "ray":
        from synthfactory.runtime.ray import RayConfig, RayExecutor, load_ray_config

        config = load_ray_config(ray_config) if ray_config is not None else RayConfig()
        if ray_address is not None:
            config = config.model_copy(update={"address": ray_address})
        return RayExecutor(config, allow_weak_isolation=allow_weak_isolation)
    raise ConfigError(f"--executor {name!r}: expected local or ray")


def _print_summary(summary: RunSummary, as_json: bool, workspace: Path) -> None:
    if as_json:
        sys.stdout.write(
            orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return
    out = _stdout()
    cpu = "-" if summary.cost_per_usable is None else f"${summary.cost_per_usable:.6f}"
    table = Table(title=f"run {summary.run_id}: {summary.status}", show_header=False)
    table.add_row("recipe", summary.recipe)
    table.add_row("usable (stored)", f"{summary.stored} of target {summary.target}")
    table.add_row("generated", str(summary.generated))
    table.add_row("failed / rejected", f"{summary.failed - summary.rejected} / {summary.rejected}")
    table.add_row("model calls", f"{summary.model_calls} (cache hits {summary.cache_hits})")
    table.add_row("tokens", f"{summary.prompt_tokens} in, {summary.completion_tokens} out")
    table.add_row("cost", f"${summary.cost:.4f} ({cpu} per usable example)")
    table.add_row(
        "dataset", f"{summary.dataset} v{summary.dataset_version} at {summary.dataset_uri}"
    )
    if summary.quality:
        table.add_row("defect rate (qa)", _quality_text(summary.quality))
        verdict = "yes" if summary.quality["releasable"] else "no"
        table.add_row("releasable", f"{verdict}: {summary.quality['reason']}")
    out.print(table)
    if summary.tiers:
        tiers = Table(title="verification")
        for column in ("tier", "ran", "passed", "failed", "skipped", "pass rate", "CPU s", "cost"):
            tiers.add_column(column)
        for tier, s in summary.tiers.items():
            rate = "-" if s["pass_rate"] is None else f"{s['pass_rate']:.0%}"
            counts = [str(s[k]) for k in ("ran", "passed", "failed", "skipped")]
            tiers.add_row(tier, *counts, rate, f"{s['cpu_s']:.2f}", f"${s['cost']:.4f}")
        out.print(tiers)
    _print_diversity(out, summary.diversity)
    if summary.message:
        out.print(summary.message, highlight=False)
    if summary.status != "finished":
        out.print(f"resume with: synthfactory resume {summary.run_id} --workspace {workspace}")


def _quality_text(quality: dict[str, Any]) -> str:
    from synthfactory.verify.qa import percent

    if not quality["judged"]:
        return (
            f"not measured ({quality['checked']} of {quality['stored']} stored checked: "
            "see synthfactory qa --help)"
        )
    return (
        f"{percent(quality['rate'])} ({quality['defective']} of {quality['judged']} judged, "
        f"95% CI {percent(quality['low'])}-{percent(quality['high'])}; "
        f"{quality['unsure']} unsure, {quality['errors']} errors; "
        f"{quality['checked']} of {quality['stored']} stored checked)"
    )


def _print_diversity(out: Console, report: dict[str, Any], rows: int = 20) -> None:
    coverage = report.get("coverage") or {}
    if coverage:
        table = Table(title="coverage")
        for column in ("category", "target", "usable", "short", "turned away"):
            table.add_column(column)
        # The categories furthest from their targets first: those are what to look at.
        ordered = sorted(coverage.items(), key=lambda kv: (-kv[1]["short"], kv[0]))
        for category, c in ordered[:rows]:
            table.add_row(
                category, *(str(c[k]) for k in ("target", "usable", "short", "turned_away"))
            )
        if len(ordered) > rows:
            table.add_row(f"... {len(ordered) - rows} more", "", "", "", "")
        out.print(table)
    for step, d in (report.get("dedup") or {}).items():
        rate = "-" if d["drop_rate"] is None else f"{d['drop_rate']:.0%}"
        out.print(
            f"dedup {step} ({d['method']} on {d['field']}): {d['dropped']} of {d['checked']} "
            f"dropped ({rate})",
            highlight=False,
        )
    text = report.get("text")
    if text:
        spread = f", dispersion {text['dispersion']:.3f}" if "dispersion" in text else ""
        out.print(
            f"diversity of {text['field']}: distinct-1 {text['distinct_1']:.3f}, "
            f"distinct-2 {text['distinct_2']:.3f}{spread}",
            highlight=False,
        )


def _drive(coro_factory: Any, *, as_json: bool, workspace: Path, hint: str | None = None) -> None:
    """Run a driver coroutine with a live display, SIGTERM handling and clear exit codes."""
    started: list[str] = []
    console = _stderr()
    show_live = not as_json and console.is_terminal
    live = _LiveProgress(console) if show_live else None

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
    _print_summary(summary, as_json, workspace)
    if hint and not as_json:
        _stdout().print(hint, highlight=False)
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
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    ray_config: RayConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run RECIPE until TARGET usable examples are stored."""
    from synthfactory.runtime.config import RunConfig
    from synthfactory.runtime.runs import run_recipe

    with _errors():
        specs = endpoint or _default_endpoints(recipe, replay)
    hint = None
    if not endpoint and specs:
        roles = " ".join(f"--endpoint {s.partition('=')[0]}=http://HOST:PORT/v1" for s in specs)
        hint = (
            f"same recipe on real endpoints: synthfactory run {recipe} {roles} "
            "(options: ,model=NAME,key_env=VAR,price_in=USD,price_out=USD)"
        )
    with _errors(), _endpoints(specs, concurrency) as given:
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
                max_defect_rate=max_defect_rate,
            )
        except ValueError as err:
            raise ConfigError(str(err)) from None
        steps_on = _executor(
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
        run_config = _stored_run_config(workspace, run_id)
        stored, specs = ([], endpoint) if endpoint else _stored_endpoints(run_config)
        before = run_config.get("executor") or {"kind": "local"}
    with _errors(), _endpoints(specs, concurrency) as given:
        endpoints = [*stored, *given]
        if executor is None and before.get("kind") == "ray" and ray_config is None:
            # The run's own Ray settings, unless the command names others.
            steps_on = _ray_executor(before.get("config") or {}, ray_address)
        else:
            name = executor or str(before.get("kind", "local"))
            if name not in ("local", "ray"):
                name = "local"  # a custom executor from Python: resume locally
            steps_on = _executor(name, ray_address=ray_address, ray_config=ray_config)

        def start(observer: Any, on_start: Any) -> Any:
            on_start(run_id)
            return resume_run(
                run_id,
                workspace=workspace,
                endpoints=endpoints,
                observer=observer,
                executor=steps_on,
            )

        _drive(start, as_json=as_json, workspace=workspace)


def _stored_run_config(workspace: Path, run_id: str) -> dict[str, Any]:
    """The config run ``run_id`` was started with, as its ledger keeps it."""
    from synthfactory.ledger import Ledger
    from synthfactory.workspace import Workspace

    ledger = Ledger(Workspace(workspace, create=False).ledger_path)
    try:
        return dict(ledger.run(run_id).config)
    finally:
        ledger.close()


def _ray_executor(config: dict[str, Any], address: str | None) -> Any:
    from synthfactory.runtime.ray import RayConfig, RayExecutor

    ray_config = RayConfig(**config)
    if address is not None:
        ray_config = ray_config.model_copy(update={"address": address})
    return RayExecutor(ray_config)


def _stored_endpoints(run_config: dict[str, Any]) -> tuple[list[EndpointConfig], list[str]]:
    """The run's own endpoints: URLs as stored (keys read from the environment again), and
    specs for those that must be brought up again (the embedded model, the fake server)."""
    stored = run_config.get("endpoints", {})
    configs, specs = [], []
    for role, cfg in stored.items():
        origin = cfg.get("origin")
        if origin:
            specs.append(f"{role}={origin}")
        else:
            configs.append(_with_key(EndpointConfig(**cfg)))
    return configs, specs


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
            _stdout().print(table)
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
        _print_summary(summary, False, workspace)
        if failed:
            table = Table("item", "state", "attempts", "error")
            for item in report["failed_items"]:
                table.add_row(item["item_id"], item["state"], str(item["attempts"]), item["error"])
            _stdout().print(table)


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
        _stderr().print(f"wrote {rows} rows to {path}")


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
            _stderr().print(
                "\ninterrupted; the checks made so far are kept: run the same qa command "
                "again to carry on",
                highlight=False,
            )
            raise typer.Exit(130) from None
    if as_json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print_qa(report)


def _qa_with_model(workspace: Path, run_id: str, spec: str, *, sample: int, seed: int) -> Any:
    from synthfactory.verify.qa import audit_quality
    from synthfactory.verify.qa_verifiers import open_model_verifier

    with _endpoints([spec], None) as given:
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


def _print_qa(report: Any) -> None:
    from synthfactory.verify.qa import estimate_defect_rate, percent

    out = _stdout()
    now = estimate_defect_rate(c.verdict for c in report.checks)
    quality = report.quality
    more = ""
    if report.asked < report.requested:
        more = (
            f" (of {report.requested} asked for: only {report.asked} stored examples were "
            "left unchecked by this verifier)"
        )
    out.print(
        f"qa of run {report.run_id} by {report.verifier} (seed {report.sample_seed}): "
        f"checked {len(report.checks)} now{more}: {now.correct} correct, {now.defective} "
        f"defective, {now.unsure} unsure, {now.errors} errors; cost ${report.cost:.4f}",
        highlight=False,
    )
    e = quality.estimate
    out.print(
        f"defect rate: {e} over {e.checked} of {quality.stored} stored examples checked",
        highlight=False,
    )
    sla = (
        "no SLA set"
        if quality.max_defect_rate is None
        else f"SLA max defect rate {percent(quality.max_defect_rate)}"
    )
    verdict = "releasable" if quality.releasable else "NOT releasable"
    out.print(f"{sla}: {verdict}: {quality.reason}", highlight=False)
    if quality.defective_items:
        table = Table("defective item", "verifier", "reason", title="defective examples")
        for c in quality.defective_items:
            table.add_row(c.item_id, c.verifier, c.reason)
        out.print(table)
    errors = [c for c in report.checks if c.verdict == "error"]
    if errors:
        out.print(
            f"{len(errors)} check(s) failed and will be asked again next time, e.g. "
            f"{errors[0].item_id}: {errors[0].reason}",
            highlight=False,
        )


def _mount_subcommands() -> None:
    from synthfactory.dedup.cli import dedup
    from synthfactory.provenance.cli import app as audit_app
    from synthfactory.provenance.cli import explain as explain_item
    from synthfactory.sandbox.cli import app as sandbox_app

    app.add_typer(audit_app, name="audit")
    app.add_typer(sandbox_app, name="sandbox")
    app.command("explain")(explain_item)
    app.command("dedup")(dedup)


_mount_subcommands()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
