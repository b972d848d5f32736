"""The main job's quality on the embedded model: defect rate, usable examples per minute,
and each verifier tier's canary catch rate, from the labelled set in ``bench/labels``.

``measure``: for each seed, ``run_recipe`` of the main job into one workspace (the cache
is shared, so a rerun pays nothing twice), then every stored row of that run is checked
against the reference implementation of its task on hidden probes (``check_pyfunc``,
code run in the sandbox). ``--judge`` adds the old LLM judge (tier ``judge``, on the same
embedded model) with canaries, to measure what it catches. ``check``: the same report for
runs already in a workspace (e.g. made by the CLI from an older commit).

    python bench/bench_quality.py measure --workspace WS --seeds 1,2,3 --target 20 \
        [--judge] [--model qwen2.5-coder-0.5b] --label after
    python bench/bench_quality.py check --workspace WS --label before

Writes ``results/quality_<label>.json``; prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthfactory import RunConfig, run_recipe  # noqa: E402
from synthfactory.ledger import Ledger  # noqa: E402
from synthfactory.recipe.model import JudgeStep, Recipe  # noqa: E402
from synthfactory.runtime.summary import verifier_quality  # noqa: E402
from synthfactory.sandbox.pool import SandboxPool  # noqa: E402
from synthfactory.verify.stats import Rate  # noqa: E402
from synthfactory.verify.tiers import tier_stats  # noqa: E402
from synthfactory.workspace import Workspace  # noqa: E402

#: The judge the main job had until it was measured (rubric and threshold as they were).
OLD_JUDGE = JudgeStep(
    name="solves_task",
    rubric=(
        "Task: {{ task.task }}\n\nSolution:\n{{ code.solution }}\n\nTests:\n"
        "{{ code.tests | join('\\n') }}\n\nDoes the solution do exactly what the "
        "task asks, for all inputs, and do the tests check it? Score 10 if fully "
        "correct, 1 if it does something else."
    ),
    threshold=5,
)


def with_judge(recipe: Recipe) -> Recipe:
    """The main job plus the old judge as a last tier, measured by canaries too."""
    import dataclasses

    canaries = recipe.canaries
    assert canaries is not None
    floors = {**canaries.floors, "judge": 0.5}
    return dataclasses.replace(
        recipe,
        steps=(*recipe.steps, OLD_JUDGE),
        canaries=dataclasses.replace(canaries, floors=floors),
    )


def stored_rows(workspace: Path, run_id: str) -> list[dict[str, Any]]:
    import lance

    uri = Workspace(workspace).dataset_uri("pyfunc")
    table = lance.dataset(uri).to_table(filter=f"run_id = '{run_id}'")
    return table.to_pylist()


def report_run(workspace: Path, run_id: str, pool: SandboxPool) -> dict[str, Any]:
    from check_pyfunc import check_payloads  # the bench directory, not a package

    ledger = Ledger(Workspace(workspace).ledger_path)
    try:
        run = ledger.run(run_id)
        tiers = tier_stats(ledger.verdicts(run_id))
        quality = verifier_quality(ledger, run_id, run.config.get("canaries"))
        counts = ledger.counts(run_id)
        usage = ledger.usage(run_id)
    finally:
        ledger.close()
    rows = stored_rows(workspace, run_id)
    checks = check_payloads(rows, pool)
    # Labelled: right in both parts, or wrong in one (the checker leaves a row unlabelled
    # when it could not decide: no reference, or the sandbox could not run a job).
    labelled = [c for c in checks if c.ok or c.solution_ok is False or c.tests_ok is False]
    wrong = [c for c in labelled if not c.ok]
    tasks = [c.task_id for c in checks]
    return {
        "run_id": run_id,
        "seed": run.config["run"]["seed"],
        "stored": len(rows),
        "tried": sum(counts.values()),
        "active_s": run.active_s,
        "usable_per_min": 60 * len(rows) / run.active_s if run.active_s else None,
        # Machine-independent cost of the run (this machine's speed varies 3-4x with its
        # neighbours): model calls and generated tokens, canaries' included.
        "model_calls": usage["model_calls"],
        "completion_tokens": usage["completion_tokens"],
        "prompt_tokens": usage["prompt_tokens"],
        "labelled": len(labelled),
        "wrong": len(wrong),
        "unlabelled": len(checks) - len(labelled),
        "wrong_solution": sum(c.solution_ok is False for c in wrong),
        "wrong_tests": sum(c.tests_ok is False for c in wrong),
        "distinct_tasks": len(set(tasks)),
        "defects": [{"item_id": c.item_id, "task": c.task_id, "reason": c.reason} for c in wrong],
        "pass_rate": {t: s["pass_rate"] for t, s in tiers.items()},
        "canaries": quality,
    }


def summarize(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    labelled = sum(r["labelled"] for r in runs)
    wrong = sum(r["wrong"] for r in runs)
    minutes = sum(r["active_s"] for r in runs) / 60
    stored = sum(r["stored"] for r in runs)
    caught: dict[str, list[int]] = {}
    for r in runs:
        for tier, q in r["canaries"].items():
            k, n = caught.setdefault(tier, [0, 0])
            caught[tier] = [k + q["catch_rate"]["k"], n + q["catch_rate"]["n"]]
    return {
        "label": label,
        "runs": runs,
        "stored": stored,
        "labelled": labelled,
        "wrong": wrong,
        "defect_rate": Rate(wrong, labelled).to_dict(),
        "usable_per_min": stored / minutes if minutes else None,
        "completion_tokens_per_usable": (
            sum(r.get("completion_tokens", 0) for r in runs) / stored if stored else None
        ),
        "model_calls_per_usable": (
            sum(r.get("model_calls", 0) for r in runs) / stored if stored else None
        ),
        "canary_catch_rate": {t: Rate(k, n).to_dict() for t, (k, n) in caught.items()},
    }


def show(summary: dict[str, Any]) -> None:
    print(f"== {summary['label']}")
    for r in summary["runs"]:
        rates = ", ".join(
            f"{t} {'-' if v is None else f'{v:.0%}'}" for t, v in r["pass_rate"].items()
        )
        print(
            f"seed {r['seed']}: stored {r['stored']} of {r['tried']} tried, "
            f"{r['distinct_tasks']} distinct tasks, wrong {r['wrong']}/{r['labelled']} "
            f"(solution {r['wrong_solution']}, tests {r['wrong_tests']}), "
            f"{r['active_s']:.0f} s; pass rates: {rates}"
        )
        for d in r["defects"]:
            print(f"    {d['item_id']} {d['task']}: {d['reason'][:150]}")
    dr = summary["defect_rate"]
    print(
        f"defect rate {dr['k']}/{dr['n']} = {dr['rate']:.1%} "
        f"(Wilson 95% {dr['low']:.1%} to {dr['high']:.1%}); "
        f"usable per minute {summary['usable_per_min']:.2f}; per usable: "
        f"{summary['model_calls_per_usable'] or 0:.2f} model calls, "
        f"{summary['completion_tokens_per_usable'] or 0:.0f} generated tokens"
    )
    for tier, c in summary["canary_catch_rate"].items():
        rate = "-" if c["rate"] is None else f"{c['rate']:.0%}"
        print(
            f"canaries, tier {tier}: caught {c['k']}/{c['n']} = {rate} "
            f"({c['low']:.0%} to {c['high']:.0%})"
        )


def measure(args: argparse.Namespace) -> list[str]:
    from synthfactory.examples.pyfunc import recipe as main_job
    from synthfactory.local.endpoints import local_endpoints
    from synthfactory.local.weights import default_cache_dir

    recipe = with_judge(main_job) if args.judge else main_job
    roles = sorted(recipe.roles)
    specs = [f"{role}=local:{args.model}" for role in roles]
    run_ids = []
    with local_endpoints(specs, cache_dir=default_cache_dir(os.environ)) as endpoints:
        for seed in args.seeds:
            config = RunConfig(target=args.target, seed=seed, max_items=args.target * 20)
            started = time.perf_counter()
            summary = asyncio.run(
                run_recipe(recipe, workspace=args.workspace, config=config, endpoints=endpoints)
            )
            print(
                f"seed {seed}: {summary.status}, stored {summary.stored} in "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
            run_ids.append(summary.run_id)
    return run_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("measure", "check"))
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3])
    parser.add_argument("--target", type=int, default=20)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--judge", action="store_true")
    parser.add_argument("--label", default="run")
    parser.add_argument("--runs", default="", help="check: only these run ids (comma-separated)")
    args = parser.parse_args()
    if args.mode == "measure":
        run_ids = measure(args)
    else:
        ledger = Ledger(Workspace(args.workspace).ledger_path)
        try:
            run_ids = [r.run_id for r in reversed(ledger.runs()) if r.recipe_name == "pyfunc"]
        finally:
            ledger.close()
        if args.runs:
            run_ids = [r for r in run_ids if r in args.runs.split(",")]
    # uids of their own: a measurement run's pool may be using the default ones.
    with SandboxPool(workers=2, uid_base=1_900_400) as pool:
        runs = [report_run(args.workspace, run_id, pool) for run_id in run_ids]
    summary = summarize(args.label, runs)
    out = HERE / "results" / f"quality_{args.label}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    show(summary)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
