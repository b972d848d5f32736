"""Benchmark: the sandbox pool vs a plain ``python -c`` subprocess per job vs bubblewrap.

Side by side in one run, for two snippets (a trivial print, and a function with its tests),
each arm with the same parallelism (``--workers``, default 2):

* **pool**: ``SandboxPool`` with every layer this host offers (listed in the output);
* **subprocess**: ``subprocess.run([sys.executable, "-c", code])`` per job, no isolation;
* **bubblewrap**: ``BubblewrapSandbox`` (if ``bwrap`` is installed): a new bwrap + python
  per job.

Throughput (executions/s) sends all ``--n`` jobs at once, ``--workers`` at a time; latency
(ms/job) runs ``--n-latency`` jobs one after the other. Pool start-up is reported apart.

The arms take turns: each repeat measures every arm once, one after the other, so the
load others put on a shared machine hits the arms of a repeat alike. Each row keeps the
medians over the repeats; "vs subprocess" is the median of the repeats' own ratios.

CPU ms/job is the CPU time (user + system) the whole process tree of this benchmark spent
during an arm's throughput run, per job: this process, and every process under it (the
pool's server, slots, zygotes and jobs; each subprocess; bwrap and what it runs). Others'
load changes it far less than it changes exec/s, so "CPU vs subprocess" (the
subprocess arm's CPU per job over the arm's) is the steadier comparison: it is the
throughput ratio a machine with nothing else running would show, all arms being bound by
CPU at this parallelism.

    python bench/bench_sandbox.py                  # N=400
    python bench/bench_sandbox.py --n 100 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from synthfactory.sandbox import BubblewrapSandbox, SandboxJob, SandboxPool, bwrap_path

HERE = Path(__file__).resolve().parent

SNIPPETS = {
    "trivial": "print('hello')\n",
    "function+tests": (
        "def fizzbuzz(n):\n"
        "    return 'FizzBuzz' if n % 15 == 0 else 'Fizz' if n % 3 == 0 else "
        "'Buzz' if n % 5 == 0 else str(n)\n"
        "assert fizzbuzz(3) == 'Fizz'\n"
        "assert fizzbuzz(5) == 'Buzz'\n"
        "assert fizzbuzz(15) == 'FizzBuzz'\n"
        "assert [fizzbuzz(i) for i in range(1, 3)] == ['1', '2']\n"
        "print('ok')\n"
    ),
}

Runner = Callable[[Sequence[SandboxJob]], list[bool]]


def tree_cpu_s(root: int) -> float:
    """CPU seconds used by the live process tree under ``root``: each live process's own
    time plus that of its children already reaped (which holds the reaped ones' own)."""
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/task/{pid}/children") as fh:
                stack += [int(p) for p in fh.read().split()]
        except OSError:
            continue  # gone meanwhile: its time is in its parent's reaped children
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def subprocess_runner(workers: int) -> Runner:
    def one(job: SandboxJob) -> bool:
        proc = subprocess.run(
            [sys.executable, "-c", job.code],
            capture_output=True,
            timeout=job.timeout_s * 10,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        return proc.returncode == 0

    pool = ThreadPoolExecutor(max_workers=workers)

    def run(jobs: Sequence[SandboxJob]) -> list[bool]:
        return list(pool.map(one, jobs))

    return run


def measure(run: Runner, code: str, n: int, n_latency: int) -> dict[str, float]:
    jobs = [SandboxJob(str(i), code, 5.0) for i in range(n)]
    run(jobs[:4])  # warm up
    cpu_before = tree_cpu_s(os.getpid())
    started = time.perf_counter()
    ok = run(jobs)
    elapsed = time.perf_counter() - started
    cpu_s = tree_cpu_s(os.getpid()) - cpu_before
    if not all(ok):
        raise RuntimeError(f"{ok.count(False)} jobs failed")
    latencies = []
    for job in jobs[:n_latency]:
        t = time.perf_counter()
        run([job])
        latencies.append((time.perf_counter() - t) * 1000)
    return {
        "exec_per_s": n / elapsed,
        "ms_per_job_throughput": elapsed * 1000 / n,
        "ms_per_job_latency": statistics.median(latencies),
        "cpu_ms_per_job": cpu_s * 1000 / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="jobs per throughput run")
    parser.add_argument("--n-latency", type=int, default=40, help="jobs for the latency run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3, help="runs per arm; medians kept")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "sandbox.json")
    args = parser.parse_args()

    load_start = os.getloadavg()
    t = time.perf_counter()
    pool = SandboxPool(args.workers)
    pool_start_ms = (time.perf_counter() - t) * 1000
    arms: dict[str, Runner] = {
        "pool": lambda jobs: [r.passed for r in pool.run(jobs)],
        "subprocess": subprocess_runner(args.workers),
    }
    bwrap: BubblewrapSandbox | None = None
    if bwrap_path() is not None:
        bwrap = BubblewrapSandbox(workers=args.workers)
        arms["bubblewrap"] = lambda jobs: [r.passed for r in bwrap.run(jobs)]  # type: ignore[union-attr]

    rows = []
    try:
        for snippet, code in SNIPPETS.items():
            samples: dict[str, list[dict[str, float]]] = {arm: [] for arm in arms}
            for _ in range(args.repeats):
                for arm, run in arms.items():
                    samples[arm].append(measure(run, code, args.n, args.n_latency))
            for arm, runs in samples.items():
                ratios = [
                    r["exec_per_s"] / base["exec_per_s"]
                    for r, base in zip(runs, samples["subprocess"], strict=True)
                ]
                row = {
                    "snippet": snippet,
                    "arm": arm,
                    **{k: statistics.median(s[k] for s in runs) for k in runs[0]},
                    "vs_subprocess": statistics.median(ratios),
                    "vs_subprocess_each": ratios,
                }
                row["cpu_vs_subprocess"] = (
                    statistics.median(r["cpu_ms_per_job"] for r in samples["subprocess"])
                    / row["cpu_ms_per_job"]
                )
                rows.append(row)
                print(
                    f"{snippet:15} {arm:11} {row['exec_per_s']:8.1f}/s "
                    f"{row['ms_per_job_throughput']:7.2f} ms/job "
                    f"{row['ms_per_job_latency']:7.2f} ms latency "
                    f"{row['vs_subprocess']:5.2f}x "
                    f"{row['cpu_ms_per_job']:6.2f} CPU ms/job {row['cpu_vs_subprocess']:5.2f}x",
                    file=sys.stderr,
                )
    finally:
        layers = list(pool.isolation.layers)
        pool.close()
        if bwrap is not None:
            bwrap.close()

    print(
        f"\nworkers={args.workers}  N={args.n}  repeats={args.repeats}  "
        f"pool start {pool_start_ms:.0f} ms"
    )
    print(f"pool layers: {', '.join(layers)}")
    print(f"load average at start / end: {load_start[0]:.2f} / {os.getloadavg()[0]:.2f}\n")
    print(
        "| snippet | arm | exec/s | ms/job (throughput) | ms/job (latency, 1 at a time) "
        "| vs subprocess (median; each repeat) | CPU ms/job | CPU vs subprocess |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        each = " / ".join(f"{x:.2f}" for x in r["vs_subprocess_each"])
        print(
            f"| {r['snippet']} | {r['arm']} | {r['exec_per_s']:.0f} | "
            f"{r['ms_per_job_throughput']:.2f} | {r['ms_per_job_latency']:.2f} | "
            f"{r['vs_subprocess']:.2f}x ({each}) | {r['cpu_ms_per_job']:.2f} | "
            f"{r['cpu_vs_subprocess']:.2f}x |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "kernel": platform.release()},
                "params": {"n": args.n, "n_latency": args.n_latency, "workers": args.workers,
                           "repeats": args.repeats},
                "pool_start_ms": pool_start_ms,
                "pool_layers": layers,
                "load_average": {"start": load_start, "end": os.getloadavg()},
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )  # fmt: skip


if __name__ == "__main__":
    main()
