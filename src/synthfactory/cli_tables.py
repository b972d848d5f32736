"""What a person sees of a run: the summary, verifier quality and diversity tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from synthfactory.runtime.progress import Progress, RunSummary


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
    from synthfactory.verify.quality import percent

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


class LiveProgress:
    """A rich live panel fed by the run driver's progress snapshots."""

    def __init__(self, console: Console) -> None:
        from rich.live import Live

        self._live = Live(console=console, auto_refresh=False, transient=False)

    def __enter__(self) -> LiveProgress:
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


def print_qa(report: Any) -> None:
    """What `synthfactory qa` prints: the check, the defect rate, the SLA, the defects."""
    from synthfactory.verify.quality import estimate_defect_rate, percent

    out = stdout()
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


__all__ = [
    "LiveProgress",
    "print_diversity",
    "print_qa",
    "print_quality",
    "print_summary",
    "quality_text",
    "stderr",
    "stdout",
]
