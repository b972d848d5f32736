"""What a person sees of a run: the summary, verifier quality and diversity tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from synthfactory.runtime.progress import RunSummary


def stdout() -> Console:
    """The console for results. No markup: messages carry user text, paths and install
    hints (``pip install 'synthfactory[hf]'``) that must reach the terminal byte for byte,
    and rich would read ``[hf]`` as a style tag and drop it. Style goes in ``Text``."""
    return Console(markup=False)


def stderr() -> Console:
    """The console for messages and progress (no markup: see :func:`stdout`)."""
    return Console(stderr=True, markup=False)


def print_summary(summary: RunSummary, as_json: bool, workspace: Path) -> None:
    if as_json:
        sys.stdout.write(
            orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return
    out = stdout()
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
        table.add_row("defect rate (qa)", quality_text(summary.quality))
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
    print_quality(out, summary.verifier_quality)
    print_diversity(out, summary.diversity)
    if summary.message:
        out.print(summary.message, highlight=False)
    if summary.status != "finished":
        out.print(f"resume with: synthfactory resume {summary.run_id} --workspace {workspace}")


def quality_text(quality: dict[str, Any]) -> str:
    """The qa estimate of a run's defect rate, in one line."""
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


def print_quality(out: Console, quality: dict[str, Any]) -> None:
    """How well each tier is known to judge, from its canaries."""
    if not quality:
        return
    table = Table(title="verifier quality (canaries)")
    for column in ("tier", "catches known-bad", "95% CI", "false rejects", "floor", ""):
        table.add_column(column)
    for tier, q in quality.items():
        caught, wrong = q["catch_rate"], q["false_reject_rate"]
        rate = (
            "-" if caught["rate"] is None else f"{caught['rate']:.0%} ({caught['k']}/{caught['n']})"
        )
        interval = "-" if not caught["n"] else f"{caught['low']:.0%}-{caught['high']:.0%}"
        rejects = (
            "-" if wrong["rate"] is None else f"{wrong['rate']:.0%} ({wrong['k']}/{wrong['n']})"
        )
        floor = "-" if q["floor"] is None else f"{q['floor']:.0%}"
        flag = "BELOW FLOOR" if q["below_floor"] else ""
        table.add_row(tier, rate, interval, rejects, floor, flag)
    out.print(table)
    for tier, q in quality.items():
        if q["below_floor"]:
            out.print(
                f"warning: tier {tier!r} catches {q['catch_rate']['k']} of "
                f"{q['catch_rate']['n']} known-bad canaries (floor {q['floor']:.0%}): its "
                "passes say little about quality",
                highlight=False,
                markup=False,
            )


def print_diversity(out: Console, report: dict[str, Any], rows: int = 20) -> None:
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


__all__ = [
    "print_diversity",
    "print_quality",
    "print_summary",
    "quality_text",
    "stderr",
    "stdout",
]
