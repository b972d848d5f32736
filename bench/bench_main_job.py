"""Usable examples per minute of the main job (``pyfunc``) on the embedded models.

For each model (0.5B, 1.5B) and parallel slot count (1, 2, 4, 8): a fresh workspace (no
cache), ``run_recipe("pyfunc", target=T)`` with every role on one local server,
wall time from the first request to the last commit (the server is started, and its
weights assembled, before the clock starts). Prints a table, writes
``results/main_job.json``.

    python bench/bench_main_job.py [--target 4] [--models qwen2.5-coder-0.5b,...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from synthfactory import RunConfig, run_recipe
from synthfactory.local.endpoints import local_endpoints
from synthfactory.local.weights import default_cache_dir

HERE = Path(__file__).resolve().parent


def one(model: str, slots: int, target: int) -> dict[str, object]:
    from synthfactory.examples.pyfunc import recipe

    # Every role the main job calls (only the generator since it lost its judge).
    specs = [f"{role}=local:{model},parallel={slots}" for role in sorted(recipe.roles)]
    with local_endpoints(specs, cache_dir=default_cache_dir(os.environ)) as endpoints:
        config = RunConfig(target=target, seed=slots, max_items=target * 12)
        with tempfile.TemporaryDirectory() as ws:
            started = time.perf_counter()
            summary = asyncio.run(
                run_recipe("pyfunc", workspace=ws, config=config, endpoints=endpoints)
            )
            wall = time.perf_counter() - started
    tiers = summary.tiers
    return {
        "model": model,
        "slots": slots,
        "stored": summary.stored,
        "generated": summary.generated,
        "wall_s": wall,
        "usable_per_min": 60 * summary.stored / wall,
        "tokens": summary.prompt_tokens + summary.completion_tokens,
        "tokens_per_s": (summary.prompt_tokens + summary.completion_tokens) / wall,
        "pass_rate": {t: s["pass_rate"] for t, s in tiers.items()},
        "cost_per_usable": summary.cost_per_usable,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", type=int, default=4)
    parser.add_argument("--models", default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    parser.add_argument("--slots", default="1,2,4,8")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "main_job.json")
    args = parser.parse_args()
    rows = [
        one(model, int(slots), args.target)
        for model in args.models.split(",")
        for slots in args.slots.split(",")
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print(
        f"{'model':<20} {'slots':>5} {'usable/min':>10} {'stored/tried':>12} {'wall s':>7} "
        f"{'tok/s':>6}  pass rates (cheap / grounded / sandbox)"
    )
    for r in rows:
        rates = r["pass_rate"]
        assert isinstance(rates, dict)
        shown = " / ".join(
            "-" if rates.get(t) is None else f"{rates[t]:.0%}"
            for t in ("cheap", "grounded", "sandbox")
        )
        print(
            f"{r['model']:<20} {r['slots']:>5} {r['usable_per_min']:>10.1f} "
            f"{r['stored']:>5}/{r['generated']:<6} {r['wall_s']:>7.1f} {r['tokens_per_s']:>6.1f}  "
            f"{shown}"
        )


if __name__ == "__main__":
    main()
