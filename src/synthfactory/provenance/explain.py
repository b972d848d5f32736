"""An item's story, told from its provenance records: what ran, with what, and why it stayed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from synthfactory.provenance.record import ProvenanceRecord


def _short(digest: str | None) -> str:
    return "-" if digest is None else digest.removeprefix("sha256:")[:12]


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def explain(records: Sequence[tuple[int, ProvenanceRecord]]) -> str:
    """A readable account of one item from its ``(leaf index, record)`` pairs, in order."""
    if not records:
        return "no provenance records"
    first = records[0][1]
    lines = [
        f"item {first.item_id} (run {first.run_id}, recipe {first.recipe_name} "
        f"v{first.recipe_version}, definition {_short(first.recipe_digest)})",
    ]
    if first.parents:
        lines.append(f"  derived from: {', '.join(first.parents)}")
    final = None
    for index, r in records:
        took = max(0.0, r.finished_at - r.started_at)
        head = (
            f"[leaf {index}] {_when(r.started_at)} step {r.step!r} attempt {r.attempt}: "
            f"{r.status} in {took:.3f} s"
        )
        if r.worker:
            head += f" on {r.worker}"
        lines.append(head)
        if r.model or r.endpoint_role:
            params = ", ".join(f"{k}={v}" for k, v in sorted(r.sampling.items()))
            lines.append(
                f"    model {r.model or '?'} (role {r.endpoint_role or '?'})"
                f"{', cached' if r.cached else ''}; seed {r.seed}; {params or 'default sampling'}"
            )
            lines.append(
                f"    prompt template {_short(r.prompt_template_digest)}, request "
                f"{_short(r.request_digest)} -> response {_short(r.response_digest)}; "
                f"{r.prompt_tokens}+{r.completion_tokens} tokens, cost {r.cost:g}"
            )
        for t in r.tool_calls:
            lines.append(
                f"    tool {t.name}: {t.status} (args {_short(t.arguments_digest)}, "
                f"result {_short(t.result_digest)})"
            )
        if r.isolation_layers:
            lines.append(f"    sandbox layers: {', '.join(r.isolation_layers)}")
        for v in r.verdicts:
            reason = f": {v.reason}" if v.reason else ""
            lines.append(f"    check {v.verifier} [{v.tier}] {v.status}{reason}")
        if r.dedup is not None:
            of = f" of {r.dedup.duplicate_of}" if r.dedup.duplicate_of else ""
            how = f" by {r.dedup.method}" if r.dedup.method else ""
            lines.append(f"    dedup: {r.dedup.decision}{of}{how}")
        if r.qa is not None:
            lines.append(
                f"    qa: {r.qa.verifier} said {r.qa.verdict} (sample seed {r.qa.sample_seed})"
            )
        if r.output_digest:
            lines.append(f"    output {_short(r.output_digest)}")
        if r.error:
            lines.append(f"    error: {r.error}")
        if r.licenses:
            terms = ", ".join(f"{k}: {v}" for k, v in sorted(r.licenses.items()))
            lines.append(f"    licenses: {terms}")
        if r.decision is not None:
            final = (r.decision, r)
    if final is None:
        lines.append("outcome: no accept/reject decision recorded yet")
    else:
        decision, r = final
        failed = [v for v in r.verdicts if v.status != "pass"]
        if decision == "accept":
            why = f"all {len(r.verdicts)} check(s) passed" if r.verdicts else "accepted"
        else:
            why = "; ".join(f"{v.verifier}: {v.status} {v.reason}".strip() for v in failed)
            if r.dedup is not None and r.dedup.decision == "duplicate":
                why = (why + "; " if why else "") + "duplicate"
        lines.append(f"outcome: {decision.upper()} at step {r.step!r} ({why or 'no reason given'})")
    return "\n".join(lines)


__all__ = ["explain"]
