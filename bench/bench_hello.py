"""Benchmark: the ``hello`` recipe vs a bare aiohttp + semaphore loop, side by side.

Each arm runs as its own process against one fake server (its own process too), arms
interleaved, ``--repeats`` times. A monitor samples each arm's whole process tree (the
driver, the forkserver and the verification workers) with psutil every 20 ms for CPU time
and resident memory. Results go to stdout as a table and to ``--out`` as JSON.

    python bench/bench_hello.py                      # N=2000, 128 in flight, 200 ms and 0 ms
    python bench/bench_hello.py --n 500 --latency-ms 200
    python bench/bench_hello.py --durability --latency-ms 0 --latency-ms 50 --repeats 5
                                  # + the factory with answers buffered (durability's cost)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent


def start_server(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synthfactory.testing.fake_server",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"fake server did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def _role(p: psutil.Process, root: psutil.Process) -> str:
    """What a process of an arm's tree is: driver, forkserver, worker or resource tracker."""
    if p.pid == root.pid:
        return "driver"
    try:
        cmd = " ".join(p.cmdline())
        parent = p.ppid()
    except psutil.NoSuchProcess:
        return "gone"
    if "resource_tracker" in cmd:
        return "tracker"
    if "forkserver" in cmd:
        return "forkserver" if parent == root.pid else "worker"
    return "other"


class TreeMonitor:
    """Samples one arm's process tree: CPU per process, RSS by role, RSS/PSS over time."""

    def __init__(self, root: psutil.Process) -> None:
        self.root = root
        self.started = time.perf_counter()
        self.cpu_by_pid: dict[int, float] = {}
        self.role_of: dict[int, str] = {}
        self.peak_by_role: dict[str, float] = {}
        self.timeline: list[tuple[float, int, int]] = []  # (seconds, tree RSS MB, PSS MB)
        self.peak_tree_rss = self.peak_tree_pss = self.peak_main_rss = 0
        self.samples = 0

    def sample(self) -> bool:
        """One sample of the whole tree; False once the root is gone."""
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return False
        rss = pss = 0
        by_role: dict[str, float] = {}
        # PSS (proportional set size) reads smaps, which is slow: every 5th sample only.
        full = self.samples % 5 == 0
        self.samples += 1
        for p in tree:
            try:
                times = p.cpu_times()
                self.cpu_by_pid[p.pid] = times.user + times.system
                mem = p.memory_info().rss
                if full:
                    pss += p.memory_full_info().pss
            except psutil.NoSuchProcess:
                continue
            role = self.role_of.setdefault(p.pid, _role(p, self.root))
            by_role[role] = by_role.get(role, 0) + mem / 2**20
            rss += mem
            if p.pid == self.root.pid:
                self.peak_main_rss = max(self.peak_main_rss, mem)
        self.peak_tree_rss = max(self.peak_tree_rss, rss)
        self.peak_tree_pss = max(self.peak_tree_pss, pss)
        for role, mb in by_role.items():
            self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), mb)
        if full:
            elapsed = round(time.perf_counter() - self.started, 2)
            self.timeline.append((elapsed, round(rss / 2**20), round(pss / 2**20)))
        return True

    def summary(self, items: int) -> dict[str, Any]:
        """CPU per item, peaks, and the breakdowns, for ``items`` items."""
        cpu_by_role: dict[str, float] = {}
        for pid, cpu in self.cpu_by_pid.items():
            role = self.role_of.get(pid, "other")
            cpu_by_role[role] = cpu_by_role.get(role, 0) + cpu
        cpu_s = sum(self.cpu_by_pid.values())
        return {
            "cpu_s": cpu_s,
            "cpu_ms_per_item": 1000 * cpu_s / items,
            "cpu_s_by_role": {k: round(v, 2) for k, v in cpu_by_role.items()},
            "peak_rss_mb_by_role": {k: round(v) for k, v in self.peak_by_role.items()},
            "rss_timeline": self.timeline,
            "peak_rss_mb": self.peak_tree_rss / 2**20,
            "peak_pss_mb": self.peak_tree_pss / 2**20,
            "peak_main_rss_mb": self.peak_main_rss / 2**20,
        }


def run_arm(args: list[str]) -> dict[str, Any]:
    """Run one arm, sampling its process tree's CPU and RSS until it exits."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "arms.py"), *args], stdout=subprocess.PIPE, text=True
    )
    monitor = TreeMonitor(psutil.Process(proc.pid))
    while proc.poll() is None and monitor.sample():
        time.sleep(0.02)
    out, _ = proc.communicate()
    process_wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"arm {args[0]} failed with {proc.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    # Whole-process wall time: interpreter start, imports, the work, shutdown. items/s is
    # computed from it, so start-up costs (imports, worker pools) count against each arm.
    result["process_wall_s"] = process_wall
    result["items_per_s"] = result["items"] / process_wall
    result.update(monitor.summary(result["items"]))
    return result


def bench(
    latency_ms: float, n: int, concurrency: int, repeats: int, *, durability: bool = False
) -> dict[str, object]:
    server, url = start_server(latency_ms)
    factory = ["synthfactory", *(["synthfactory-buffered"] if durability else [])]
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], **{arm: [] for arm in factory}}
    try:
        run_arm(["bare", url, "200", str(concurrency)])  # warm up the server and the disk cache
        for _ in range(repeats):
            runs["bare"].append(run_arm(["bare", url, str(n), str(concurrency)]))
            for arm in factory:
                with tempfile.TemporaryDirectory() as ws:
                    runs[arm].append(run_arm([arm, url, str(n), str(concurrency), ws]))
    finally:
        server.terminate()
        server.wait(10)
    summary: dict[str, object] = {"latency_ms": latency_ms, "n": n, "concurrency": concurrency}
    for arm, results in runs.items():
        summary[arm] = {
            key: statistics.median(r[key] for r in results)
            for key in (
                "items_per_s",
                "process_wall_s",
                "wall_s",
                "cpu_ms_per_item",
                "peak_rss_mb",
                "peak_pss_mb",
                "peak_main_rss_mb",
            )
        }
        # Where the memory and CPU went, and memory over time, in the last repeat.
        last = results[-1]
        summary[arm]["cpu_s_by_role"] = last.get("cpu_s_by_role", {})  # type: ignore[index]
        summary[arm]["peak_rss_mb_by_role"] = last.get("peak_rss_mb_by_role", {})  # type: ignore[index]
        summary[arm]["rss_timeline"] = last.get("rss_timeline", [])  # type: ignore[index]
    summary["ratio_cpu_per_item"] = statistics.median(
        s["cpu_ms_per_item"] / b["cpu_ms_per_item"]
        for b, s in zip(runs["bare"], runs["synthfactory"], strict=True)
    )
    ratios = [
        s["items_per_s"] / b["items_per_s"]
        for b, s in zip(runs["bare"], runs["synthfactory"], strict=True)
    ]
    summary["ratio_items_per_s"] = statistics.median(ratios)
    summary["ratios"] = ratios
    if durability:
        # What durable-on-receipt costs: the durable arm's throughput over the buffered
        # arm's, repeat by repeat (each pair ran back to back).
        durable = [
            d["items_per_s"] / b["items_per_s"]
            for d, b in zip(runs["synthfactory"], runs["synthfactory-buffered"], strict=True)
        ]
        summary["ratio_durable_over_buffered"] = statistics.median(durable)
        summary["durable_ratios"] = durable
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--latency-ms", type=float, action="append")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "hello.json")
    parser.add_argument(
        "--durability",
        action="store_true",
        help="add the synthfactory-buffered arm (answers not durable until the next commit)",
    )
    args = parser.parse_args()
    results = [
        bench(lat, args.n, args.concurrency, args.repeats, durability=args.durability)
        for lat in (args.latency_ms or [200, 0])
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"{'latency':>8} {'arm':>13} {'items/s':>9} {'proc s':>7} {'work s':>7} "
        f"{'CPU ms/item':>12} "
        f"{'RSS MB tree / main':>19} {'PSS MB tree':>12}"
    )
    for r in results:
        for arm in ("bare", "synthfactory", "synthfactory-buffered"):
            if arm not in r:
                continue
            m = r[arm]
            assert isinstance(m, dict)
            print(
                f"{r['latency_ms']:>6.0f}ms {arm:>13} {m['items_per_s']:>9.0f} "
                f"{m['process_wall_s']:>7.2f} {m['wall_s']:>7.2f} "
                f"{m['cpu_ms_per_item']:>12.2f} {m['peak_rss_mb']:>11.0f} / "
                f"{m['peak_main_rss_mb']:<5.0f}"
                f"{m['peak_pss_mb']:>12.0f}"
            )
        m = r["synthfactory"]
        assert isinstance(m, dict)
        print(
            f"{'':>8} synthfactory peak RSS MB by process: {m['peak_rss_mb_by_role']}; "
            f"CPU s by process: {m['cpu_s_by_role']}"
        )
        print(f"{'':>8} synthfactory / bare CPU per item: {r['ratio_cpu_per_item']:.2f}")
        print(
            f"{'':>8} synthfactory / bare items/s: {r['ratio_items_per_s']:.2f} "
            f"(each repeat: {', '.join(f'{x:.2f}' for x in r['ratios'])})"
        )
        if "ratio_durable_over_buffered" in r:
            print(
                f"{'':>8} durable / buffered items/s: {r['ratio_durable_over_buffered']:.3f} "
                f"(each repeat: {', '.join(f'{x:.3f}' for x in r['durable_ratios'])})"
            )


if __name__ == "__main__":
    main()
