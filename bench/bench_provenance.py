"""Benchmark: the provenance audit log, side by side in one run.

- appends/s with batched commits (one transaction and fsync per 1024 records) vs one commit
  per append vs one commit and one signed checkpoint per append ("signing every entry"),
  against plain SHA-256 hashing of the same canonical bytes (the floor);
- checkpoint cost: the Ed25519 signature alone and a whole ``checkpoint()`` (root, sign,
  store) on a log of N records;
- inclusion and consistency proof generation at N records;
- full offline verification (``verify_log``) of N records.

    python bench/bench_provenance.py                 # N = 100,000
    python bench/bench_provenance.py --n 1000000     # the 1e6 verification target
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from synthfactory.provenance import (
    DedupDecision,
    NoteSigner,
    ProvenanceRecord,
    SignedCheckpoint,
    SqliteAuditLog,
    ToolCall,
    VerdictEntry,
    canonical_json,
    digest,
    verify_log,
)

HERE = Path(__file__).resolve().parent
ORIGIN = "bench.synthfactory/ws"


def make_record(i: int) -> ProvenanceRecord:
    """A record shaped like a real model step (about 1.3 kB of canonical JSON)."""
    return ProvenanceRecord(
        item_id=f"item-{i:08d}",
        run_id="run-bench",
        step="generate",
        attempt=1,
        recipe_name="hello",
        recipe_version="1",
        recipe_digest=digest("recipe"),
        started_at=1.7e9 + i,
        finished_at=1.7e9 + i + 0.25,
        model="qwen2.5-coder-1.5b-instruct-q4_k_m",
        endpoint_role="writer",
        prompt_template_digest=digest("template"),
        request_digest=digest(f"request {i}"),
        sampling={"temperature": 0.7, "top_p": 0.95, "max_tokens": 256},
        seed=i,
        response_digest=digest(f"response {i}"),
        output_digest=digest(f"output {i}"),
        prompt_tokens=120,
        completion_tokens=80,
        cost=0.00012,
        tool_calls=(ToolCall("python", digest(f"args {i}"), digest(f"result {i}")),),
        isolation_layers=("netns", "landlock", "seccomp", "cgroup", "rlimits"),
        verdicts=(VerdictEntry("json_schema", "pass"), VerdictEntry("exec", "pass", "sandbox")),
        dedup=DedupDecision("unique", "minhash"),
        decision="accept",
        worker="host-a/pid-1/gen-0",
        licenses={"model:qwen2.5-coder-1.5b": "Apache-2.0"},
    )


def bench_hash(records: list[ProvenanceRecord]) -> float:
    """Records/s of the floor: canonical encoding plus one SHA-256, nothing stored."""
    start = time.perf_counter()
    for r in records:
        hashlib.sha256(b"\x00" + canonical_json(r.to_dict())).digest()
    return len(records) / (time.perf_counter() - start)


def bench_append(
    path: Path, signer: NoteSigner, records: list[ProvenanceRecord], batch: int, sign_each: bool
) -> float:
    """Appends/s into a fresh log, committing every ``batch`` records (durable at the end)."""
    log = SqliteAuditLog(path, signer, origin=ORIGIN, batch_size=batch)
    start = time.perf_counter()
    for r in records:
        log.append([r])
        if sign_each:
            log.checkpoint()
    log.flush()
    elapsed = time.perf_counter() - start
    log.close()
    return len(records) / elapsed


def bench_big(big: Path, signer: NoteSigner, n: int, results: dict[str, Any]) -> None:
    """Checkpoint, proof and verification costs on the log of ``n`` records at ``big``."""
    log = SqliteAuditLog(big, signer, origin=ORIGIN)
    head = log.root()
    t = time.perf_counter()
    for _ in range(200):
        SignedCheckpoint.sign(ORIGIN, n, head, signer)
    results["sign_ms"] = (time.perf_counter() - t) / 200 * 1e3
    t = time.perf_counter()
    for _ in range(50):
        log.checkpoint()
    results["checkpoint_ms"] = (time.perf_counter() - t) / 50 * 1e3

    rng = random.Random(1)
    times = []
    for _ in range(1000):
        index = rng.randrange(n)
        t = time.perf_counter()
        log.proof(index, n)
        times.append(time.perf_counter() - t)
    results["inclusion_proof_ms_median"] = statistics.median(times) * 1e3
    results["inclusion_proof_ms_p99"] = sorted(times)[989] * 1e3
    times = []
    for _ in range(300):
        old = rng.randrange(1, n)
        t = time.perf_counter()
        log.consistency(old, n)
        times.append(time.perf_counter() - t)
    results["consistency_proof_ms_median"] = statistics.median(times) * 1e3
    log.close()

    report = verify_log(big, signer.verifier)
    assert report.ok, report
    results["verify_s"] = report.seconds
    results["verify_records_per_s"] = n / report.seconds
    results["log_mb"] = round(big.stat().st_size / 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="records in the big log")
    parser.add_argument("--n-single", type=int, default=3_000, help="records, commit per append")
    parser.add_argument("--n-signed", type=int, default=1_000, help="records, signed per append")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "provenance.json")
    args = parser.parse_args()

    signer = NoteSigner.generate("bench.synthfactory")
    records = [make_record(i) for i in range(args.n)]
    size = len(canonical_json(records[0].to_dict()))
    results: dict[str, Any] = {
        "n": args.n,
        "record_bytes": size,
        "machine": f"{platform.machine()} {platform.python_version()} {platform.system()}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results["hash_only_per_s"] = bench_hash(records)
        results["append_batched_per_s"] = bench_append(
            root / "batched.sqlite", signer, records, 1024, False
        )
        results["append_commit_each_per_s"] = bench_append(
            root / "single.sqlite", signer, records[: args.n_single], 1, False
        )
        results["append_sign_each_per_s"] = bench_append(
            root / "signed.sqlite", signer, records[: args.n_signed], 1, True
        )

        bench_big(root / "batched.sqlite", signer, args.n, results)

    r = results
    rows = [
        ("plain SHA-256 of canonical bytes (floor)", f"{r['hash_only_per_s']:,.0f} records/s"),
        ("append, batched commits (1024)", f"{r['append_batched_per_s']:,.0f} appends/s"),
        ("append, one commit per append", f"{r['append_commit_each_per_s']:,.0f} appends/s"),
        ("append, commit + sign every entry", f"{r['append_sign_each_per_s']:,.0f} appends/s"),
        ("Ed25519 checkpoint signature", f"{r['sign_ms']:.3f} ms"),
        (f"checkpoint() at {args.n:,} records", f"{r['checkpoint_ms']:.3f} ms"),
        (
            f"inclusion proof at {args.n:,} (median / p99)",
            f"{r['inclusion_proof_ms_median']:.3f} / {r['inclusion_proof_ms_p99']:.3f} ms",
        ),
        (f"consistency proof at {args.n:,} (median)", f"{r['consistency_proof_ms_median']:.3f} ms"),
        (
            f"verify_log of {args.n:,} records",
            f"{r['verify_s']:.2f} s ({r['verify_records_per_s']:,.0f} records/s)",
        ),
        ("log file size", f"{r['log_mb']} MB ({size} B per record)"),
    ]
    width = max(len(a) for a, _ in rows)
    print(f"{'measure':<{width}}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for a, b in rows:
        print(f"{a:<{width}}  {b}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
