"""Acceptance sampling's pure parts: the sample, the estimate, its coverage, the SLA gate."""

from __future__ import annotations

import asyncio
import io
import os
import time
from pathlib import Path
from typing import Any

import pytest

from synthfactory.errors import ConfigError, UserInputError
from synthfactory.ledger import ItemRecord, Ledger, QaCheckRecord, RunRecord
from synthfactory.provenance import ProvenanceRecord, QaEntry, digest
from synthfactory.verdict import Verdict
from synthfactory.verify.qa import (
    QualityEstimate,
    QualityVerdict,
    draw_sample,
    estimate_defect_rate,
    pooled_verdicts,
    releasable,
    run_quality,
)
from synthfactory.verify.qa_verifiers import HumanVerifier, PythonVerifier


def test_estimate_leaves_unsure_and_errors_out_of_the_denominator() -> None:
    e = estimate_defect_rate(["defective", "correct", "correct", "unsure", "error", "correct"])
    assert (e.defective, e.correct, e.unsure, e.errors) == (1, 3, 1, 1)
    assert (e.judged, e.checked) == (4, 6)
    assert e.rate.value == 0.25
    with pytest.raises(ValueError, match="unknown quality verdict"):
        estimate_defect_rate(["wrong-ish"])
    with pytest.raises(ValueError):
        QualityVerdict("maybe")  # type: ignore[arg-type]


def test_upper_bounds_the_sla_is_held_to() -> None:
    assert round(QualityEstimate(correct=5).upper, 3) == 0.434
    assert round(QualityEstimate(correct=100).upper, 3) == 0.037
    assert QualityEstimate().upper == 1.0  # nothing judged, nothing known
    assert str(QualityEstimate(defective=2, correct=18)).startswith("10.0% (2 of 20 judged")


def test_draw_is_seeded_without_replacement_and_continues_where_it_stopped() -> None:
    ids = [f"item-{i:04d}" for i in range(300)]
    first = draw_sample(ids, 40, seed=1)
    assert first == draw_sample(reversed(ids), 40, seed=1)  # the population's order is moot
    assert len(set(first)) == 40 and set(first) <= set(ids)
    assert first != draw_sample(ids, 40, seed=2)
    assert first != sorted(first)  # random, not the first ids
    more = draw_sample(ids, 25, seed=1, exclude=set(first))
    assert more == draw_sample(ids, 65, seed=1)[40:]  # the same order, carried on
    assert len(draw_sample(ids, 1000, seed=1)) == 300
    assert draw_sample(ids, 10, seed=1, exclude=set(ids)) == []


def test_interval_covers_the_true_defect_rate_over_many_draws() -> None:
    # 2,000 stored items: 10% of the judgeable ones defective, and half that a verifier
    # cannot judge. The defective ones sort last, so a draw that is not random (the first
    # items) would miss every one of them.
    ids = [f"item-{i:05d}" for i in range(2000)]
    unsure = set(ids[::2])
    judgeable = [i for i in ids if i not in unsure]
    defective = set(judgeable[-len(judgeable) // 10 :])
    truth = len(defective) / len(judgeable)
    assert truth == pytest.approx(0.10)

    def verdict(item: str) -> str:
        return "unsure" if item in unsure else "defective" if item in defective else "correct"

    draws = 1000
    covered = 0
    for seed in range(draws):
        e = estimate_defect_rate(verdict(i) for i in draw_sample(ids, 100, seed=seed))
        low, high = e.rate.interval
        covered += low <= truth <= high
    assert covered / draws >= 0.93, covered
    # The negative control: the first 100 items, unrandomised, never cover the truth.
    first = estimate_defect_rate(verdict(i) for i in ids[:100])
    assert first.rate.interval[1] < truth
    # Nor does an estimate that counts "unsure" as correct, on most draws.
    diluted = 0
    for seed in range(200):
        sampled = [verdict(i) for i in draw_sample(ids, 400, seed=seed)]
        bad = estimate_defect_rate("correct" if v == "unsure" else v for v in sampled)
        low, high = bad.rate.interval
        diluted += low <= truth <= high
    assert diluted / 200 < 0.2, diluted


def test_pooled_verdict_takes_the_worst_judgement_per_item() -> None:
    def check(item: str, verdict: str, verifier: str) -> QaCheckRecord:
        return QaCheckRecord("run", item, verifier, verdict, "", 0, time.time())

    pooled = pooled_verdicts(
        [
            check("a", "correct", "model"),
            check("a", "defective", "human"),
            check("b", "error", "model"),
            check("b", "unsure", "human"),
            check("c", "correct", "human"),
            check("c", "error", "model"),
        ]
    )
    assert pooled == {"a": "defective", "b": "unsure", "c": "correct"}


def _ledger_with_run(
    tmp_path: Path, *, status: str = "finished", sla: float | None = 0.05, stored: int = 100
) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    now = time.time()
    run_config: dict[str, Any] = {"target": stored}
    if sla is not None:
        run_config["max_defect_rate"] = sla
    ledger.create_run(
        RunRecord(
            run_id="run-1",
            recipe_name="r",
            recipe_source={"kind": "builtin", "ref": "hello"},
            recipe_digest="0" * 64,
            recipe_version="1",
            dataset="d",
            config={"run": run_config},
            status=status,
            message="",
            created_at=now,
            updated_at=now,
            active_s=0.0,
        )
    )
    for i in range(stored):
        ledger.add_item(ItemRecord(f"run-1-{i:06d}", "run-1", i, i, "stored", 1, {"n": i}))
    ledger.flush()
    return ledger


def _checks(ledger: Ledger, verdicts: list[str], start: int = 0) -> None:
    for offset, verdict in enumerate(verdicts):
        item = f"run-1-{start + offset:06d}"
        ledger.add_qa_check(QaCheckRecord("run-1", item, "v", verdict, "", 0, time.time()))
    ledger.flush()


def test_sla_gate_in_the_ledger(tmp_path: Path) -> None:
    ledger = _ledger_with_run(tmp_path)
    try:
        ok, reason = releasable(ledger, "run-1")
        assert not ok
        assert reason == "no qa sample yet: run synthfactory qa run-1 --sample N --verifier SPEC"
        _checks(ledger, ["correct"] * 5 + ["unsure", "error"])
        ok, reason = releasable(ledger, "run-1")
        assert not ok
        assert reason == (
            "defect rate 0.0% (0 of 5 judged, 95% upper bound 43.4%) above the SLA 5.0%: "
            "check more items or fix the recipe"
        )
        _checks(ledger, ["correct"] * 95, start=7)
        ok, reason = releasable(ledger, "run-1")
        assert ok
        assert (
            reason == "defect rate 0.0% (0 of 100 judged, 95% upper bound 3.7%) within the SLA 5.0%"
        )
        quality = run_quality(ledger, "run-1")
        assert (quality.estimate.checked, quality.estimate.unsure, quality.stored) == (102, 1, 100)
        # Re-asking an item replaces its check: the error turns into a defect.
        _checks(ledger, ["defective"], start=6)
        ok, reason = releasable(ledger, "run-1")
        assert not ok and "1 of 101 judged" in reason
    finally:
        ledger.close()


def test_only_a_finished_run_is_releasable(tmp_path: Path) -> None:
    ledger = _ledger_with_run(tmp_path, status="exhausted", sla=None)
    try:
        ok, reason = releasable(ledger, "run-1")
        assert not ok and reason.startswith("the run is exhausted, not finished")
        ledger.set_run_status("run-1", "finished")
        ok, reason = releasable(ledger, "run-1")
        assert ok and "no quality SLA" in reason
    finally:
        ledger.close()


def _answer(fn: Any) -> QualityVerdict:
    return asyncio.run(PythonVerifier(fn, name="python:t").check({"n": 1}))


def test_python_verifier_maps_every_kind_of_answer() -> None:
    assert _answer(lambda p: True).status == "correct"
    assert _answer(lambda p: False).status == "defective"
    assert _answer(lambda p: None).status == "unsure"
    assert _answer(lambda p: Verdict.ok()).status == "correct"
    assert _answer(lambda p: Verdict.unsure("hm")).status == "unsure"
    wrong = _answer(lambda p: Verdict.reject("off by one"))
    assert (wrong.status, wrong.reason) == ("defective", "off by one")
    assert _answer(lambda p: Verdict("infra_error", "db down")).status == "error"
    assert _answer(lambda p: QualityVerdict.unsure("?")).status == "unsure"
    assert _answer(lambda p: 1 / 0).status == "error"
    assert "expected bool" in _answer(lambda p: "yes").reason


def test_python_verifier_from_a_reference() -> None:
    verifier = PythonVerifier.from_ref("json:dumps")
    assert verifier.name == "python:json:dumps"
    for bad, message in (
        ("json", "expected module:function"),
        ("no_such_module_xyz:f", "cannot import"),
        ("json:nope", "no function"),
    ):
        with pytest.raises(ConfigError, match=message):
            PythonVerifier.from_ref(bad)


def test_a_qa_record_round_trips_and_others_encode_as_before() -> None:
    base: dict[str, Any] = {
        "item_id": "run-1-000001",
        "run_id": "run-1",
        "step": "qa",
        "attempt": 0,
        "recipe_name": "r",
        "recipe_version": "1",
        "recipe_digest": digest("r"),
        "started_at": 1.0,
        "finished_at": 2.0,
    }
    plain = ProvenanceRecord(**base)
    assert "qa" not in plain.to_dict()
    record = ProvenanceRecord(**base, qa=QaEntry("human", "defective", 3, digest("why")))
    assert ProvenanceRecord.from_dict(record.to_dict()) == record
    with pytest.raises(ValueError, match="digest"):
        QaEntry("human", "defective", 3, "the reason itself")


def _human_answers(stdin: Any, n: int) -> list[QualityVerdict]:
    out = io.StringIO()
    human = HumanVerifier(stdin, out)

    async def ask() -> list[QualityVerdict]:
        return [await human.check({"n": i, "_hidden": 1}) for i in range(n)]

    answers = asyncio.run(ask())
    assert '"n": 0' in out.getvalue() and "_hidden" not in out.getvalue()
    return answers


def test_human_verifier_reads_a_pipe_and_a_file(tmp_path: Path) -> None:
    script = "y\nn off by one\nwhat\ns\n"
    read_fd, write_fd = os.pipe()
    os.write(write_fd, script.encode())
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        answers = _human_answers(pipe, 3)
    assert [a.status for a in answers] == ["correct", "defective", "unsure"]
    assert answers[1].reason == "off by one"
    path = tmp_path / "answers.txt"
    path.write_text(script)
    with path.open() as file:  # a regular file: read without the event loop's watch
        assert [a.status for a in _human_answers(file, 3)] == [a.status for a in answers]
    with path.open() as file, pytest.raises(UserInputError, match="standard input was closed"):
        _human_answers(file, 4)
