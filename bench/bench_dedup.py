"""Benchmark: MinHash near-duplicate dedup, ``MinHashIndex`` vs plain ``datasketch`` loops.

Every arm runs in its own process (so peak RSS is its own) over the same seeded corpus of
short documents (30 to 50 words drawn Zipf-like from 50,000 words) in which 5% are exact
copies of an earlier document (case changed) and 5% are near copies (one word replaced or
inserted), so recall and precision can be computed against the plants; another 3% are *related*
documents (3 or 4 words of an earlier one replaced, true Jaccard ~0.5-0.7), which are not
duplicates at 0.8 and count against precision when flagged. Arms:

- ``ours``: ``MinHashIndex.check_add`` in batches of 10,000, with the same bands x rows as
  ``MinHashLSH`` picks (9 x 13 at threshold 0.8, 128 permutations): same candidate curve.
- ``ours-recall``: ``MinHashIndex`` with its default bands (14 x 9, leaning to recall).
- ``plain``: the loop from the issue, per document: ``MinHash(num_perm)``, ``update`` each
  shingle, ``lsh.query``, ``lsh.insert`` if no candidate (a candidate means duplicate).
- ``plain-batch``: the same with shared permutations and ``update_batch`` (a tuned
  datasketch baseline).

All use the same normalization and 3-word shingles, 128 permutations, threshold 0.8.
docs/s counts only dedup time (corpus generation excluded); RSS is the arm's peak, and the
RSS right after generating the corpus is given too, so the index's own share is the
difference.

    python bench/bench_dedup.py                          # 1e5 and 1e6, all arms
    python bench/bench_dedup.py --sizes 100000 --arms ours plain
    python bench/bench_dedup.py --arms ours ours-recall --update   # rerun two arms only
    python bench/bench_dedup.py arm ours 100000          # one arm, prints one JSON line
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ARMS = ("ours", "ours-recall", "plain-batch", "plain")
THRESHOLD, NUM_PERM, SHINGLE, SEED = 0.8, 128, 3, 1
VOCABULARY = 50_000
EXACT_SHARE, NEAR_SHARE, RELATED_SHARE = 0.05, 0.05, 0.03
BATCH = 10_000


def make_corpus(
    n: int, seed: int = 0
) -> tuple[list[str], dict[int, tuple[str, int]], dict[int, int]]:
    """``n`` short documents, the plants (position -> (kind, source position)) and the
    related documents (position -> source position), which are not duplicates."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    words = [f"{chr(97 + i % 26)}{i:x}" for i in range(VOCABULARY)]  # distinct, word-like
    weights = 1.0 / (np.arange(VOCABULARY) + 10.0)  # Zipf-like, so common words recur
    lengths = rng.integers(30, 51, size=n)
    drawn = rng.choice(VOCABULARY, size=int(lengths.sum()), p=weights / weights.sum())
    texts: list[str] = []
    plants: dict[int, tuple[str, int]] = {}
    related: dict[int, int] = {}
    offset = 0
    originals: list[int] = []
    for i in range(n):
        doc = [words[w] for w in drawn[offset : offset + lengths[i]]]
        offset += lengths[i]
        roll = pick.random()
        if originals and roll < EXACT_SHARE + NEAR_SHARE + RELATED_SHARE:
            source = pick.choice(originals)
            copy = texts[source].split(" ")
            if roll >= EXACT_SHARE + NEAR_SHARE:  # related, not a duplicate: 3-4 words replaced
                for spot in pick.sample(range(len(copy)), pick.choice((3, 4))):
                    copy[spot] = words[pick.randrange(VOCABULARY)]
                related[i] = source
                texts.append(" ".join(copy))
                continue
            if roll < EXACT_SHARE:
                plants[i] = ("exact", source)
                texts.append(" ".join(w.upper() if pick.random() < 0.3 else w for w in copy))
                continue
            spot = pick.randrange(len(copy))
            if pick.random() < 0.5:
                copy[spot] = words[pick.randrange(VOCABULARY)]
            else:
                copy.insert(spot, words[pick.randrange(VOCABULARY)])
            plants[i] = ("near", source)
            texts.append(" ".join(copy))
            continue
        originals.append(i)
        texts.append(" ".join(doc))
    return texts, plants, related


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def run_ours(texts: list[str], bands: tuple[int, int] | None) -> list[tuple[int, int | None]]:
    """(position, source position or None) for every flagged document."""
    from synthfactory.dedup.minhash import MinHashIndex

    index = MinHashIndex(THRESHOLD, NUM_PERM, SHINGLE, SEED, bands=bands)
    keys = [str(i) for i in range(len(texts))]
    flagged: list[tuple[int, int | None]] = []
    for start in range(0, len(texts), BATCH):
        verdicts = index.check_add(keys[start : start + BATCH], texts[start : start + BATCH])
        flagged += [(start + j, int(v.of)) for j, v in enumerate(verdicts) if v is not None]
    return flagged


def run_plain(texts: list[str], batch: bool) -> list[tuple[int, int | None]]:
    """The plain datasketch loop; ``batch`` shares permutations and uses update_batch."""
    from datasketch import MinHash, MinHashLSH

    from synthfactory.dedup.normalize import shingles

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    template = MinHash(num_perm=NUM_PERM, seed=SEED)
    flagged: list[tuple[int, int | None]] = []
    for i, text in enumerate(texts):
        if batch:
            m = MinHash(
                num_perm=NUM_PERM, seed=SEED, permutations=template.permutations, scheme="affine32"
            )
            m.update_batch([s.encode("utf-8") for s in shingles(text, SHINGLE)])
        else:
            m = MinHash(num_perm=NUM_PERM, seed=SEED)
            for s in shingles(text, SHINGLE):
                m.update(s.encode("utf-8"))
        if lsh.query(m):
            flagged.append((i, None))  # MinHashLSH gives candidates, not the best match
        else:
            lsh.insert(str(i), m)
    return flagged


def arm(name: str, n: int) -> dict[str, Any]:
    """Run one arm over the corpus of size ``n``; returns its measurements."""
    texts, plants, related = make_corpus(n)
    rss_corpus = _rss_mb()
    started = time.perf_counter()
    if name == "ours":
        from synthfactory.dedup.minhash import lsh_params

        flagged = run_ours(texts, lsh_params(THRESHOLD, NUM_PERM))
    elif name == "ours-recall":
        flagged = run_ours(texts, None)
    elif name in ("plain", "plain-batch"):
        flagged = run_plain(texts, batch=name == "plain-batch")
    else:
        raise SystemExit(f"unknown arm {name!r}")
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hits = {"exact": 0, "near": 0}
    right_source = 0
    for position, source in flagged:
        plant = plants.get(position)
        if plant is not None:
            hits[plant[0]] += 1
            right_source += source == plant[1]
    counts = {kind: sum(1 for k, _ in plants.values() if k == kind) for kind in hits}
    flagged_positions = {position for position, _ in flagged}
    # A related document whose true Jaccard still reaches the threshold (its replaced words
    # happened to sit together) is a fair catch, not a false positive.
    related_hits = [i for i in flagged_positions & related.keys()]
    related_fair = sum(_jaccard(texts[i], texts[related[i]]) >= THRESHOLD for i in related_hits)
    true_flags = sum(hits.values())
    # Near plants split by their true Jaccard: those at or above the threshold are the ones
    # a dedup at 0.8 should catch; LSH alone also catches some below it.
    above = below = above_hit = below_hit = 0
    for position, (kind, source) in plants.items():
        if kind != "near":
            continue
        hit = position in flagged_positions
        if _jaccard(texts[position], texts[source]) >= THRESHOLD:
            above, above_hit = above + 1, above_hit + hit
        else:
            below, below_hit = below + 1, below_hit + hit
    return {
        "arm": name,
        "n": n,
        "seconds": round(seconds, 2),
        "docs_per_s": round(n / seconds, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_after_corpus_mb": round(rss_corpus, 1),
        "flagged": len(flagged),
        "plants": counts,
        "recall": {k: round(hits[k] / counts[k], 4) for k in hits},
        "recall_all": round(true_flags / sum(counts.values()), 4),
        "near_recall_true_jaccard_at_least_threshold": round(above_hit / max(above, 1), 4),
        "near_recall_true_jaccard_below_threshold": round(below_hit / max(below, 1), 4),
        "near_plants_at_least_threshold": above,
        "precision": round((true_flags + related_fair) / len(flagged), 4) if flagged else 1.0,
        "related_flagged": len(related_hits),
        "related_flagged_below_threshold": len(related_hits) - related_fair,
        "related": len(related),
        "flags_naming_the_source": right_source if name.startswith("ours") else None,
    }


def _jaccard(a: str, b: str) -> float:
    from synthfactory.dedup.normalize import shingles

    sa, sb = set(shingles(a, SHINGLE)), set(shingles(b, SHINGLE))
    return len(sa & sb) / len(sa | sb)


def near_jaccard(n: int, sample: int = 2000) -> dict[str, float]:
    """True 3-shingle Jaccard of a sample of near plants with their sources."""
    texts, plants, related = make_corpus(n)
    related_j = np.array([_jaccard(texts[i], texts[s]) for i, s in list(related.items())[:sample]])
    near = [(i, s) for i, (kind, s) in plants.items() if kind == "near"][:sample]
    array = np.array([_jaccard(texts[i], texts[s]) for i, s in near])
    return {
        "sampled": len(near),
        "min": round(float(array.min()), 3),
        "median": round(float(np.median(array)), 3),
        "share_at_or_above_threshold": round(float((array >= THRESHOLD).mean()), 3),
        "related_median": round(float(np.median(related_j)), 3),
        "related_max": round(float(related_j.max()), 3),
    }


def main() -> None:
    """Run the arms in subprocesses, one after the other, and save the results."""
    # (A 1e6 plain arm takes minutes; rows are saved as they come.)
    if len(sys.argv) > 1 and sys.argv[1] == "arm":
        print(json.dumps(arm(sys.argv[2], int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "dedup.json")
    parser.add_argument(
        "--update", action="store_true", help="replace only these arms' rows in --out"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "settings": {
            "threshold": THRESHOLD,
            "num_perm": NUM_PERM,
            "shingle": SHINGLE,
            "exact_share": EXACT_SHARE,
            "near_share": NEAR_SHARE,
            "related_share": RELATED_SHARE,
            "batch": BATCH,
        },
        "near_plant_jaccard": near_jaccard(100_000),
        "runs": [],
    }
    if args.update and args.out.is_file():  # keep the other arms' rows of an earlier run
        rerun = {(name, n) for name in args.arms for n in args.sizes}
        earlier = json.loads(args.out.read_text(encoding="utf-8"))["runs"]
        results["runs"] = [row for row in earlier if (row["arm"], row["n"]) not in rerun]
    for n in args.sizes:
        for name in args.arms:
            done = subprocess.run(
                [sys.executable, __file__, "arm", name, str(n)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(done.stdout.strip().splitlines()[-1])
            results["runs"].append(row)
            print(json.dumps(row), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
