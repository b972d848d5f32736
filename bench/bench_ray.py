"""Benchmark: the local executor and the Ray executor side by side, on this machine.

Two recipes against one fake server (200 ms latency by default), N items each:

- ``hello``: I/O-bound; what the Ray executor's machinery (a local Ray instance, actor
  calls, batches crossing processes) costs per item;
- ``hello_heavy.py``: the same items with a verifier that burns ~20 ms of CPU each, where
  verification, not the endpoint, is the bottleneck and more than one core must work.

Arms: ``local`` (LocalExecutor: forkserver pool of one worker per core), ``ray`` (a
private local Ray instance, pools sized by default: one verification actor per CPU, each
claiming a share of what the 0.5 CPU headroom leaves, so 2 x 0.75 on 2 cores) and, for the
heavy recipe, ``ray-1v`` (the first default: one verification actor of a whole CPU, which
leaves a core idle on 2). Each arm runs
as its own process (``arms.py``); a monitor samples every process of its tree every 20 ms
(driver, forkserver and workers, or Ray's gcs_server, raylet, agents and actors), so CPU
is summed over everything the arm started, and reported per process too.

    python bench/bench_ray.py                       # N=2000, 128 in flight, 200 ms, 1 repeat
    python bench/bench_ray.py --n 500 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_hello import start_server  # noqa: E402  (bench/ is not a package)

ARMS = {"hello": ("local", "ray"), "heavy": ("local", "ray", "ray-1v")}
RECIPES = {"hello": "hello", "heavy": str(HERE / "hello_heavy.py")}


def _label(proc: psutil.Process, root: int) -> str:
    """A short name for one process of an arm's tree (pids are not comparable across runs)."""
    if proc.pid == root:
        return "driver"
    try:
        name = proc.name()
        argv = proc.cmdline()
    except psutil.Error:
        return "gone"
    first = argv[0] if argv else name
    if first.startswith("ray::"):
        # Ray workers retitle themselves: ray::VerificationActor.run, ray::IDLE, agents.
        return first.split()[0].split(".")[0]
    if name in ("raylet", "gcs_server"):
        return name
    cmd = " ".join(argv)
    if "multiprocessing" in cmd or "forkserver" in cmd:
        return "local pool"
    if "ray/" in cmd or "ray." in cmd:
        script = next((a for a in argv if a.endswith(".py")), first)
        return f"ray ({Path(script).stem})"
    return name


def run_arm(args: list[str]) -> dict[str, object]:
    """Run one arm; sample its process tree's CPU per process until it exits."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "arms.py"), *args], stdout=subprocess.PIPE, text=True
    )
    root = psutil.Process(proc.pid)
    cpu: dict[int, float] = {}
    labels: dict[int, str] = {}
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in tree:
            try:
                times = p.cpu_times()
            except psutil.Error:
                continue
            cpu[p.pid] = times.user + times.system
            # Asked every time: a Ray worker retitles itself once it hosts an actor.
            label = _label(p, root.pid)
            if label != "gone":
                labels[p.pid] = label
        time.sleep(0.02)
    out, _ = proc.communicate()
    process_wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"arm {args} failed with {proc.returncode}")
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    items = float(result["items"])  # type: ignore[arg-type]
    # Per process: several processes of one kind (two actors) are told apart as #1, #2;
    # short-lived helpers of one kind are summed.
    per_kind: dict[str, list[float]] = defaultdict(list)
    for pid, seconds in cpu.items():
        per_kind[labels.get(pid, "?")].append(seconds)
    by_label: dict[str, float] = {}
    for kind, values in per_kind.items():
        busy = sorted((v for v in values if v >= 1.0), reverse=True)
        if len(busy) > 1:
            by_label.update({f"{kind}#{i}": v for i, v in enumerate(busy, 1)})
            rest = sum(values) - sum(busy)
            if rest:
                by_label[f"{kind} (others)"] = rest
        else:
            by_label[kind] = sum(values)
    total = sum(cpu.values())
    result.update(
        load_avg_1m=os.getloadavg()[0],
        process_wall_s=process_wall,
        items_per_s=items / process_wall,
        cpu_s=total,
        cpu_ms_per_item=1000 * total / items,
        # Cores kept busy on average over the whole process lifetime.
        cores_busy=total / process_wall,
        cpu_s_by_process=dict(sorted(by_label.items(), key=lambda kv: -kv[1])),
    )
    return result


def bench(
    latency_ms: float, n: int, concurrency: int, repeats: int, recipes: list[str]
) -> dict[str, object]:
    server, url = start_server(latency_ms)
    runs: dict[str, dict[str, list[dict[str, object]]]] = {
        recipe: {arm: [] for arm in ARMS[recipe]} for recipe in recipes
    }
    try:
        run_arm(["bare", url, "200", str(concurrency)])  # warm up the server and the disk cache
        for _ in range(repeats):
            for recipe in recipes:
                for arm in ARMS[recipe]:
                    with tempfile.TemporaryDirectory() as ws:
                        args = ["synthfactory", url, str(n), str(concurrency), ws]
                        runs[recipe][arm].append(run_arm([*args, RECIPES[recipe], arm]))
    finally:
        server.terminate()
        server.wait(10)
    summary: dict[str, object] = {"latency_ms": latency_ms, "n": n, "concurrency": concurrency}
    for recipe, arms in runs.items():
        table: dict[str, object] = {}
        for arm, results in arms.items():
            med = {
                key: statistics.median(float(r[key]) for r in results)  # type: ignore[arg-type]
                for key in (
                    "items_per_s",
                    "process_wall_s",
                    "wall_s",
                    "cpu_ms_per_item",
                    "cores_busy",
                    "load_avg_1m",
                    "start_s",
                    "close_s",
                    "steady_s",
                )
            }
            med["cpu_s_by_process"] = results[-1]["cpu_s_by_process"]  # type: ignore[assignment]
            table[arm] = med
        local = table["local"]
        assert isinstance(local, dict)
        for m in table.values():
            assert isinstance(m, dict)
            # What an arm adds per item over the local executor, in wall time: in all, and
            # without the executor's start and close (the steady state).
            m["extra_wall_ms_per_item"] = 1000 * (m["process_wall_s"] - local["process_wall_s"]) / n
            m["extra_steady_ms_per_item"] = 1000 * (m["steady_s"] - local["steady_s"]) / n
        summary[recipe] = table
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--recipe", choices=sorted(ARMS), action="append")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ray.json")
    args = parser.parse_args()
    recipes = args.recipe or list(ARMS)
    result = bench(args.latency_ms, args.n, args.concurrency, args.repeats, recipes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{'recipe':>7} {'arm':>7} {'items/s':>8} {'proc s':>7} {'work s':>7} {'start':>6} "
        f"{'close':>6} {'CPU ms/item':>12} {'cores':>6} {'+ms/item':>9} {'steady':>7} "
        f"{'load':>5}  CPU s by process"
    )
    for recipe in recipes:
        table = result[recipe]
        assert isinstance(table, dict)
        for arm, m in table.items():
            procs = ", ".join(f"{k} {v:.1f}" for k, v in list(m["cpu_s_by_process"].items())[:5])
            print(
                f"{recipe:>7} {arm:>7} {m['items_per_s']:>8.0f} {m['process_wall_s']:>7.2f} "
                f"{m['wall_s']:>7.2f} {m['start_s']:>6.2f} {m['close_s']:>6.2f} "
                f"{m['cpu_ms_per_item']:>12.2f} {m['cores_busy']:>6.2f} "
                f"{m['extra_wall_ms_per_item']:>9.2f} {m['extra_steady_ms_per_item']:>7.2f} "
                f"{m['load_avg_1m']:>5.1f}  {procs}"
            )


if __name__ == "__main__":
    main()
