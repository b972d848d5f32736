"""The diversity report of a run: categories against targets, dedup, and spread.

Computed from the ledger alone, like the rest of the summary: coverage counts per
category (usable, turned away, short of target), what each dedup step checked and
dropped, and how varied the usable examples' text is (distinct n-grams, and the spread of
their vectors: mean pairwise cosine distance and a histogram of each example's nearest
neighbour similarity). The vectors are lexical (hashed word uni- and bigrams), so the
report needs no model; ``synthfactory diversity`` can use a real embedder instead.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthfactory.ledger import ItemRecord, Ledger

if TYPE_CHECKING:
    from synthfactory.dedup.embedders import Embedder
from synthfactory.recipe.model import Recipe
from synthfactory.runtime.dedup_gate import dedup_text
from synthfactory.runtime.steering import category_of

#: At most this many examples go into the vector measures (pairwise: n^2 work).
SAMPLE = 2000


def diversity_plan(recipe: Recipe) -> dict[str, Any] | None:
    """What the report needs to know of the recipe, kept in the run's config."""
    if recipe.coverage is None and not recipe.dedup_steps:
        return None
    return {
        "coverage": None
        if recipe.coverage is None
        else {"label": recipe.coverage.label_path, "targets": recipe.targets},
        "dedup": [
            {"step": s.name, "field": s.field, "method": s.method} for s in recipe.dedup_steps
        ],
    }


def diversity_report(
    ledger: Ledger, run_id: str, plan: Mapping[str, Any] | None, embedder: Embedder | None = None
) -> dict[str, Any]:
    """The report for run ``run_id`` ({} for a recipe with neither coverage nor dedup);
    with ``embedder``, dispersion and neighbours are measured on its embeddings."""
    if not plan:
        return {}
    items = ledger.items(run_id)
    usable = [i for i in items if i.state in ("passed", "stored")]
    out: dict[str, Any] = {}
    if plan.get("coverage"):
        out["coverage"] = _coverage(plan["coverage"], items, usable)
    steps = plan.get("dedup") or []
    if steps:
        out["dedup"] = {s["step"]: _dedup(s, items) for s in steps}
        texts = [t for t in (dedup_text(i.payload, steps[-1]["field"]) for i in usable) if t]
        out["text"] = text_spread(texts, field=steps[-1]["field"], embedder=embedder)
    return out


def _coverage(
    plan: Mapping[str, Any], items: Sequence[ItemRecord], usable: Sequence[ItemRecord]
) -> dict[str, Any]:
    label = plan["label"]
    made = Counter(category_of(i.payload, label) for i in usable)
    away = Counter(
        category_of(i.payload, label)
        for i in items
        if i.state == "rejected" and any(v.get("step") == "coverage" for v in i.verdicts)
    )
    return {
        c: {
            "target": n,
            "usable": made[c],
            "turned_away": away[c],
            "short": max(n - made[c], 0),
        }
        for c, n in plan["targets"].items()
    }


def _dedup(step: Mapping[str, Any], items: Sequence[ItemRecord]) -> dict[str, Any]:
    checked = dropped = 0
    similarities: list[float] = []
    for item in items:
        for v in item.verdicts:
            if v.get("step") != step["step"] or v.get("status") == "skipped":
                continue
            checked += 1
            if v.get("status") == "fail":
                dropped += 1
                similarities.append(float((v.get("details") or {}).get("similarity", 1.0)))
    return {
        "method": step["method"],
        "field": step["field"],
        "checked": checked,
        "dropped": dropped,
        "drop_rate": dropped / checked if checked else None,
        "dropped_similarity_mean": sum(similarities) / len(similarities) if similarities else None,
    }


def text_spread(
    texts: Sequence[str], *, field: str = "", embedder: Embedder | None = None
) -> dict[str, Any]:
    """Distinct-n and vector spread of ``texts`` (lexical vectors unless an embedder is given;
    at most :data:`SAMPLE` texts go into the vector measures)."""
    from synthfactory.dedup import diversity

    sample = list(texts[:SAMPLE])
    out: dict[str, Any] = {
        "field": field,
        "examples": len(texts),
        "distinct_1": round(diversity.distinct_n(texts, 1), 6),
        "distinct_2": round(diversity.distinct_n(texts, 2), 6),
        "distinct_3": round(diversity.distinct_n(texts, 3), 6),
    }
    if len(sample) >= 2:
        if embedder is None:
            vectors = lexical_vectors(sample)
            out["vectors"] = "lexical (hashed word 1-2 grams)"
        else:
            vectors = embedder.embed(sample)
            out["vectors"] = f"embeddings ({embedder.name})"
        out["dispersion"] = round(diversity.embedding_dispersion(vectors), 6)
        counts, edges = diversity.nn_similarity_histogram(vectors)
        out["nn_similarity_histogram"] = {
            "edges": [round(float(e), 3) for e in edges],
            "counts": [int(c) for c in counts],
        }
    return out


def lexical_vectors(texts: Sequence[str], dim: int = 512) -> Any:
    """L2-normalized hashed bags of word unigrams and bigrams (float32, n x dim)."""
    import hashlib

    import numpy as np

    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        words = text.casefold().split()
        for gram in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
            h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")
            out[row, h % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms


__all__ = ["diversity_plan", "diversity_report", "lexical_vectors", "text_spread"]
