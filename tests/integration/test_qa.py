"""Acceptance sampling on real runs: a known defect rate is recovered, the SLA gate holds,
qa never asks twice, and its estimate reaches status, the audit log and the exports."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from synthfactory import (
    EndpointConfig,
)
from synthfactory.cache import ResponseCache
from synthfactory.errors import UserInputError
from synthfactory.ledger import Ledger
from synthfactory.provenance import SqliteAuditLog, exports
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.verdict import Verdict
from synthfactory.verify.qa import (
    QualityVerdict,
    audit_quality,
    draw_sample,
    releasable,
)
from synthfactory.verify.qa_verifiers import ModelVerifier, PythonVerifier, open_model_verifier
from synthfactory.workspace import Workspace
from tests.conftest import cli, cli_env
from tests.integration.qa_support import (
    NUMBERS,
    always_right,
    reference_check,
    run_on_fake,
    truly_defective,
)

STORED = 200


@dataclass(frozen=True)
class Built:
    workspace: Path
    run_id: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One real run of 200 stored examples with a 5% quality SLA (copied per test)."""
    ws = tmp_path_factory.mktemp("qa") / "ws"
    return Built(ws, run_on_fake(ws, NUMBERS, STORED, max_defect_rate=0.05))


@pytest.fixture
def run(built: Built, tmp_path: Path) -> Built:
    """A private copy of the built run's workspace: qa checks of one test stay there."""
    ws = tmp_path / "ws"
    shutil.copytree(built.workspace, ws)
    return Built(ws, built.run_id)


def _stored(run: Built) -> list[Any]:
    ledger = Ledger(Workspace(run.workspace, create=False).ledger_path)
    try:
        return ledger.items(run.run_id, ["stored"])
    finally:
        ledger.close()


class Counting:
    """A quality verifier that records every payload it is asked about."""

    def __init__(self, fn: Any, name: str = "counting", fail_after: int | None = None) -> None:
        self.inner = PythonVerifier(fn, name=name)
        self.asked: list[int] = []
        self.fail_after = fail_after

    @property
    def name(self) -> str:
        return self.inner.name

    async def check(self, payload: Any) -> QualityVerdict:
        if self.fail_after is not None and len(self.asked) >= self.fail_after:
            raise UserInputError("the reviewer went home")
        self.asked.append(payload["n"])
        return await self.inner.check(payload)


def test_known_defect_rate_is_covered_by_the_interval(run: Built) -> None:
    items = _stored(run)
    assert len(items) == STORED
    truth_ids = {i.item_id for i in items if truly_defective(i.payload)}
    truth = len(truth_ids) / STORED
    assert 0.05 < truth < 0.16  # the hash rule makes about 10% defective

    verifier = Counting(reference_check)
    report = asyncio.run(audit_quality(run.workspace, run.run_id, sample=100, verifier=verifier))
    e = report.quality.estimate
    assert len(verifier.asked) == 100 == e.judged == report.asked
    assert len(set(verifier.asked)) == 100  # without replacement
    low, high = e.rate.interval
    assert low <= truth <= high, (low, truth, high)
    found = {c.item_id for c in report.quality.defective_items}
    sampled = {c.item_id for c in report.checks}
    assert found == truth_ids & sampled  # exactly the truly defective items of the sample
    assert e.defective == len(found) > 0
    # The draw is the seeded one, in order.
    assert [c.item_id for c in report.checks] == draw_sample(
        [i.item_id for i in items], 100, seed=0
    )


def test_sla_gate_refuses_a_thin_sample_and_allows_a_sufficient_one(run: Built) -> None:
    ws_ledger = Workspace(run.workspace, create=False).ledger_path

    def gate() -> tuple[bool, str]:
        ledger = Ledger(ws_ledger)
        try:
            return releasable(ledger, run.run_id)
        finally:
            ledger.close()

    ok, reason = gate()
    assert not ok and reason.startswith("no qa sample yet: run synthfactory qa")
    verifier = PythonVerifier(always_right, name="python:always_right")
    asyncio.run(audit_quality(run.workspace, run.run_id, sample=5, verifier=verifier))
    ok, reason = gate()
    assert not ok
    assert "0 of 5 judged, 95% upper bound 43.4%) above the SLA 5.0%" in reason
    report = asyncio.run(audit_quality(run.workspace, run.run_id, sample=95, verifier=verifier))
    assert report.quality.estimate.judged == 100
    ok, reason = gate()
    assert ok, reason
    assert "0 of 100 judged, 95% upper bound 3.7%) within the SLA 5.0%" in reason
    # One defect found by a stronger check now counts against the run.
    strict = PythonVerifier(reference_check, name="python:reference")
    asyncio.run(audit_quality(run.workspace, run.run_id, sample=100, verifier=strict))
    ok, reason = gate()
    assert not ok and "above the SLA" in reason


def test_qa_never_asks_again_about_a_settled_item(run: Built) -> None:
    first = Counting(reference_check)
    asyncio.run(audit_quality(run.workspace, run.run_id, sample=30, verifier=first))
    second = Counting(reference_check)
    report = asyncio.run(audit_quality(run.workspace, run.run_id, sample=30, verifier=second))
    assert len(first.asked) == len(second.asked) == 30
    assert not set(first.asked) & set(second.asked)  # the sample grew by 30 new items
    assert report.already_checked == 30 and report.quality.estimate.judged == 60

    # A call cut short keeps what it did; the next call carries on without asking again.
    cut = Counting(reference_check, fail_after=7)
    with pytest.raises(UserInputError, match="went home"):
        asyncio.run(audit_quality(run.workspace, run.run_id, sample=20, verifier=cut))
    assert len(cut.asked) == 7
    rest = Counting(reference_check)
    report = asyncio.run(audit_quality(run.workspace, run.run_id, sample=13, verifier=rest))
    assert not set(rest.asked) & set(cut.asked + first.asked + second.asked)
    assert report.quality.estimate.judged == 80

    # A different verifier is asked about the same seeded order from the start.
    other = Counting(always_right, name="other")
    asyncio.run(audit_quality(run.workspace, run.run_id, sample=5, verifier=other))
    assert other.asked == first.asked[:5]


def test_errors_are_counted_apart_and_asked_again(run: Built) -> None:
    calls: list[int] = []

    def flaky(payload: dict[str, Any]) -> Any:
        calls.append(payload["n"])
        if len(calls) <= 3:
            raise RuntimeError("reference database offline")
        if len(calls) <= 5:
            return Verdict.unsure("cannot tell")
        return reference_check(payload)

    verifier = PythonVerifier(flaky, name="python:flaky")
    report = asyncio.run(audit_quality(run.workspace, run.run_id, sample=10, verifier=verifier))
    e = report.quality.estimate
    assert (e.errors, e.unsure, e.judged) == (3, 2, 5)
    errored = {c.item_id for c in report.checks if c.verdict == "error"}
    assert all("offline" in c.reason for c in report.checks if c.verdict == "error")
    report = asyncio.run(audit_quality(run.workspace, run.run_id, sample=3, verifier=verifier))
    assert {c.item_id for c in report.checks} == errored  # asked again, first
    assert report.quality.estimate.errors == 0 and report.quality.estimate.judged == 8


def test_model_verifier_answers_through_the_fake_server_and_the_cache(run: Built) -> None:
    scripts = [
        (r'"n": \d*7\b', '{"correct": false, "reasons": "ends in seven"}'),
        (r"The example", '{"correct": true, "reasons": "fine"}'),
    ]
    with FakeServer(FakeServerConfig(scripts=scripts)) as server:
        endpoint = EndpointConfig(role="judge", url=server.url)

        async def check(sample: int) -> Any:
            async with open_model_verifier(run.workspace, run.run_id, endpoint) as model:
                assert model.name == "model:fake-model"
                return await audit_quality(
                    run.workspace, run.run_id, sample=sample, verifier=model, concurrency=4
                )

        report = asyncio.run(check(12))
        assert server.stats().requests == 12
        by_id = {i.item_id: i.payload for i in _stored(run)}
        for c in report.checks:
            sevens = str(by_id[c.item_id]["n"]).endswith("7")
            assert c.verdict == ("defective" if sevens else "correct"), (c, by_id[c.item_id])
            assert c.details["model"] == "fake-model" and c.details["cached"] is False

        # Asked again about an item it already answered, the model is not called: the
        # answer comes from the workspace's response cache.
        cache = ResponseCache(Workspace(run.workspace, create=False).cache_path)
        try:
            model = ModelVerifier(endpoint.model_copy(update={"model": "fake-model"}), cache)
            again = asyncio.run(model.check(by_id[report.checks[0].item_id]))
            asyncio.run(model.aclose())
        finally:
            cache.close()
        assert again.status == report.checks[0].verdict and again.details["cached"] is True
        assert server.stats().requests == 12
        report = asyncio.run(check(5))
        assert server.stats().requests == 17  # only the 5 new items
        assert report.quality.estimate.judged == 17


def test_model_verifier_is_shown_the_runs_judge_rubric(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run_id = run_on_fake(ws, "tests.integration.qa_support:JUDGED", 6)
    scripts = [
        (r"RUBRIC-MARK: is fake answer \w+ true of \d+\?", '{"correct": false, "reasons": "r"}'),
        (r".", '{"correct": true, "reasons": "no rubric"}'),
    ]
    with FakeServer(FakeServerConfig(scripts=scripts)) as server:
        endpoint = EndpointConfig(role="judge", url=server.url)

        async def check() -> Any:
            async with open_model_verifier(ws, run_id, endpoint) as model:
                assert len(model.rubrics) == 1
                return await audit_quality(ws, run_id, sample=6, verifier=model)

        report = asyncio.run(check())
    assert [c.verdict for c in report.checks] == ["defective"] * 6
    assert all(c.reason == "r" for c in report.checks)


def test_checks_reach_the_audit_log_status_and_exports(run: Built) -> None:
    verifier = PythonVerifier(reference_check, name="python:reference")
    report = asyncio.run(audit_quality(run.workspace, run.run_id, sample=40, verifier=verifier))
    e = report.quality.estimate
    assert e.judged == 40 and e.defective > 0

    log = SqliteAuditLog(run.workspace / "audit" / "log.sqlite")
    try:
        item = report.checks[0].item_id
        qa_records = [r for _, r in log.records_for(item) if r.step == "qa"]
    finally:
        log.close()
    assert len(qa_records) == 1
    record = qa_records[0]
    assert record.qa is not None and record.qa.verifier == "python:reference"
    assert record.qa.verdict == report.checks[0].verdict
    assert record.output_digest is not None and record.output_digest.startswith("sha256:")
    verified = cli("audit", "verify", "-w", str(run.workspace))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    status = cli("status", run.run_id, "-w", str(run.workspace), "--json")
    assert status.returncode == 0, status.stderr
    quality = json.loads(status.stdout)["quality"]
    assert (quality["judged"], quality["defective"]) == (40, e.defective)
    assert quality["high"] == pytest.approx(e.rate.interval[1])
    assert quality["max_defect_rate"] == 0.05 and quality["releasable"] is False
    assert "above the SLA 5.0%" in quality["reason"]
    table = cli("status", run.run_id, "-w", str(run.workspace))
    assert "defect rate (qa)" in table.stdout and "releasable" in table.stdout

    statement = exports.intoto_statement(run.workspace, run.run_id)
    stated = statement["predicate"]["buildDefinition"]["internalParameters"]["quality"]
    assert (stated["judged"], stated["defective"]) == (40, e.defective)
    assert stated["releasable"] is False
    assert all("reason" not in i for i in stated["defective_items"])  # ids, not content
    croissant = exports.croissant_for_run(run.workspace, run.run_id)
    analysis = croissant["rai:dataAnnotationAnalysis"]
    assert f"{e.defective} of 40 judged" in analysis and run.run_id in analysis
    assert "not releasable" in analysis


# -- the command line ---------------------------------------------------------------------


def test_cli_qa_with_a_python_verifier_prints_the_estimate(run: Built) -> None:
    done = cli(
        "qa",
        run.run_id,
        "-w",
        str(run.workspace),
        "--sample",
        "50",
        "--verifier",
        "python=tests.integration.test_qa:reference_check",
        "--seed",
        "3",
    )
    assert done.returncode == 0, done.stderr
    assert "defect rate:" in done.stdout and "95% CI" in done.stdout
    assert "NOT releasable" in done.stdout and "defective examples" in done.stdout
    as_json = cli(
        "qa",
        run.run_id,
        "-w",
        str(run.workspace),
        "--sample",
        "10",
        "--verifier",
        "python=tests.integration.test_qa:reference_check",
        "--json",
    )
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["asked"] == 10 and report["quality"]["judged"] >= 50
    assert report["verifier"] == "python:tests.integration.test_qa:reference_check"


def test_cli_qa_with_a_fake_model_endpoint(run: Built) -> None:
    done = cli(
        "qa", run.run_id, "-w", str(run.workspace), "-n", "8", "--verifier", "judge=fake", "--json"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["verifier"] == "model:fake-model" and report["this_call"]["judged"] == 8


def _human(run: Built, answers: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "synthfactory.cli", "qa", run.run_id),
            *("-w", str(run.workspace), "--verifier", "human", "--json", *args),
        ],
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
        check=False,
    )


def test_human_verifier_reads_answers_from_a_pipe(run: Built) -> None:
    done = _human(run, "y\nmaybe\nn returns the total\ns\nyes\n", "--sample", "4")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    now = report["this_call"]
    assert (now["correct"], now["defective"], now["unsure"], now["errors"]) == (2, 1, 1, 0)
    assert now["rate"] == pytest.approx(1 / 3)
    order = draw_sample([i.item_id for i in _stored(run)], 4, seed=0)
    assert [c["item_id"] for c in report["checks"]] == order
    assert [c["verdict"] for c in report["checks"]] == ["correct", "defective", "unsure", "correct"]
    assert report["checks"][1]["reason"] == "returns the total"
    shown = {i.item_id: i.payload for i in _stored(run)}
    assert str(shown[order[0]]["n"]) in done.stderr  # the person was shown the example
    assert "please answer y, n or s" in done.stderr  # "maybe" was not taken for an answer


def test_human_verifier_stopped_by_closed_input_carries_on_later(run: Built) -> None:
    done = _human(run, "n\n", "--sample", "3")
    assert done.returncode == 2
    assert "standard input was closed" in done.stderr
    assert "Traceback" not in done.stderr
    again = _human(run, "y\ny\n", "--sample", "2")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    order = draw_sample([i.item_id for i in _stored(run)], 3, seed=0)
    assert [c["item_id"] for c in report["checks"]] == order[1:]  # the first kept its answer
    assert report["quality"]["by_verifier"]["human"]["judged"] == 3
    assert report["quality"]["defective"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run-nope", "--sample", "5", "--verifier", "human"], "no run 'run-nope'"),
        (["RUN", "--sample", "5", "--verifier", "nonsense"], "expected ROLE=URL"),
        (["RUN", "--sample", "5", "--verifier", "python=no_such_module:f"], "cannot import"),
        (["RUN", "--sample", "5", "--verifier", "python=json:no_such_fn"], "no function"),
        (["RUN", "--sample", "0", "--verifier", "human"], "--sample must be at least 1"),
        (["RUN", "--sample", "5", "--verifier", "judge=ftp://x"], "not an http(s) URL"),
    ],
)
def test_cli_qa_refuses_bad_input_clearly(run: Built, args: list[str], message: str) -> None:
    args = [run.run_id if a == "RUN" else a for a in args]
    done = cli("qa", *args, "-w", str(run.workspace))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
