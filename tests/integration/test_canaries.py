"""Canaries measure every verifier tier while the run works.

Negative controls: a judge that always says yes and a sandbox step that runs nothing are
both flagged by their canary catch rate, and ``strict_verifiers`` stops such a run naming
the tier. A good verifier (the tests, run in the real sandbox) is not flagged. Canaries
never reach the dataset, and their verdicts are in the ledger, the summary and the log.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from synthfactory import EndpointConfig, ModelStep, Recipe, RunConfig, Verdict, run_recipe
from synthfactory.ledger import Ledger
from synthfactory.provenance.log import SqliteAuditLog
from synthfactory.recipe.model import (
    Dataset,
    JudgeStep,
    SandboxStep,
    VerificationPolicy,
    VerifyStep,
)
from synthfactory.recipe.samplers import randint
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.verify.canaries import Canaries, Canary
from synthfactory.verify.mutants import MutateCode
from synthfactory.workspace import Workspace
from tests.conftest import cli

GOOD = "def add(a, b):\n    return a + b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(-4, 4) == 0", "assert add(5, 5) == 10"]
ANSWER = json.dumps({"solution": GOOD, "tests": TESTS})


def compiles(payload: dict[str, Any]) -> Verdict:
    try:
        compile(payload["code"]["solution"], "<solution>", "exec")
    except SyntaxError as err:
        return Verdict.reject(str(err))
    return Verdict.ok()


def _canaries(**overrides: Any) -> Canaries:
    wrong = {"n": 1, "code": {"solution": "def add(a, b):\n    return a - b\n", "tests": TESTS}}
    total = {"n": 2, "code": {"solution": "def add(a, b):\n    return a\n", "tests": TESTS}}
    right = {"n": 3, "code": {"solution": GOOD, "tests": TESTS}}
    options: dict[str, Any] = {
        "items": (
            Canary(wrong, bad=True, label="subtracts"),
            Canary(total, bad=True, label="returns the first argument"),
            Canary(right, bad=False, label="correct"),
        ),
        "mutators": (MutateCode("code.solution"),),
        "rate": 1.0,
        "tiers": ("sandbox", "judge"),
        "floors": {"sandbox": 0.5, "judge": 0.5},
        "min_count": 8,
    }
    options.update(overrides)
    return Canaries(**options)


def _recipe(sandbox_code: str, canaries: Canaries, *, judge: bool = True) -> Recipe:
    steps: list[Any] = [
        ModelStep(
            name="write",
            prompt="WRITE add {{ n }}",
            schema={"type": "object", "properties": {"solution": {"type": "string"}}},
            output="code",
        ),
        VerifyStep(name="compiles", fn=compiles),
        SandboxStep(name="tests_pass", code=sandbox_code, timeout_s=2.0),
    ]
    if judge:
        steps.append(JudgeStep(name="judge", rubric="JUDGE {{ code.solution }}", threshold=6))
    return Recipe(
        name="adder",
        samplers={"n": randint(0, 10**6)},
        steps=tuple(steps),
        policy=VerificationPolicy(sample_rate=1.0),
        canaries=canaries,
        dataset=Dataset(name="adder", fields=("n", "code")),
    )


RUNS_TESTS = "{{ code.solution }}\n{{ code.tests | join('\\n') }}\n"
RUNS_NOTHING = "pass\n"
SCRIPTS = [("^WRITE add", ANSWER), ("^JUDGE", '{"score": 10, "reasons": "looks right"}')]


def _run(ws: Path, recipe: Recipe, *, strict: bool = False, target: int = 12) -> Any:
    with FakeServer(FakeServerConfig(scripts=SCRIPTS)) as server:
        return asyncio.run(
            run_recipe(
                recipe,
                workspace=ws,
                config=RunConfig(target=target, seed=5, strict_verifiers=strict, max_in_flight=4),
                endpoints=[
                    EndpointConfig(role="generator", url=server.url),
                    *(
                        [EndpointConfig(role="judge", url=server.url, price_in=1, price_out=1)]
                        if "judge" in recipe.roles
                        else []
                    ),
                ],
            )
        )


def test_a_yes_judge_is_flagged_and_real_tests_are_not(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    summary = _run(ws, _recipe(RUNS_TESTS, _canaries()))
    assert summary.status == "finished", summary.message
    quality = summary.verifier_quality
    judge, sandbox = quality["judge"], quality["sandbox"]
    # The judge says yes to every known-bad canary: caught 0 of n, flagged.
    assert judge["catch_rate"]["n"] >= 8 and judge["catch_rate"]["k"] == 0
    assert judge["below_floor"] is True
    # The tests in the sandbox catch every broken add (declared and mutants); the correct
    # canary passes: a good verifier, not flagged.
    assert sandbox["catch_rate"]["n"] >= 8
    assert sandbox["catch_rate"]["rate"] == 1.0 and sandbox["below_floor"] is False
    assert sandbox["false_reject_rate"]["n"] >= 1 and sandbox["false_reject_rate"]["k"] == 0
    assert set(sandbox["by_source"]) == {"declared", "mutant"}

    # Canaries never reach the dataset: every row is a real item of the run.
    rows = LanceStore(Workspace(ws).dataset_uri("adder")).read().to_pylist()
    assert len(rows) == 12
    assert all("canary" not in r["item_id"] for r in rows)
    # Their verdicts are in the ledger and in the provenance log, marked as canaries.
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        checks = ledger.canary_checks(summary.run_id)
        assert summary.generated == len(ledger.items(summary.run_id))
    finally:
        ledger.close()
    assert len(checks) >= 2 * 12
    log = SqliteAuditLog(Workspace(ws).root / "audit" / "log.sqlite")
    try:
        records = log.records_for(checks[0].canary_id)
    finally:
        log.close()
    marked = [r for _, r in records if r.step.startswith("canary:")]
    assert marked and marked[0].extra["canary"] in {"bad", "good"}
    assert marked[0].parents == (checks[0].item_id,)
    # The judge's canary calls were paid for, and the run's cost says so.
    assert summary.cost > 0

    # status shows the measurement, in JSON and to a person.
    shown = cli("status", summary.run_id, "--workspace", str(ws))
    assert shown.returncode == 0, shown.stderr
    assert "verifier quality" in shown.stdout and "BELOW FLOOR" in shown.stdout
    as_json = json.loads(cli("status", summary.run_id, "--workspace", str(ws), "--json").stdout)
    assert as_json["verifier_quality"]["judge"]["below_floor"] is True


def test_a_sandbox_step_that_runs_nothing_is_flagged(tmp_path: Path) -> None:
    canaries = _canaries(tiers=("sandbox",), floors={"sandbox": 0.5})
    summary = _run(tmp_path / "ws", _recipe(RUNS_NOTHING, canaries, judge=False))
    assert summary.status == "finished", summary.message
    sandbox = summary.verifier_quality["sandbox"]
    assert sandbox["catch_rate"]["k"] == 0 and sandbox["catch_rate"]["n"] >= 8
    assert sandbox["below_floor"] is True


def test_strict_verifiers_stops_the_run_naming_the_tier(tmp_path: Path) -> None:
    summary = _run(tmp_path / "ws", _recipe(RUNS_TESTS, _canaries()), strict=True, target=40)
    assert summary.status == "stopped"
    assert "'judge'" in summary.message and "strict-verifiers" in summary.message
    assert "0%" in summary.message
    assert summary.stored < 40


def test_same_seed_same_canaries(tmp_path: Path) -> None:
    recipe = _recipe(RUNS_TESTS, _canaries(rate=0.5))
    runs = []
    for name in ("a", "b"):
        summary = _run(tmp_path / name, recipe)
        ledger = Ledger(Workspace(tmp_path / name).ledger_path)
        try:
            runs.append(
                sorted(
                    (c.item_id.split("-")[-1], c.step, c.bad, c.source, c.status)
                    for c in ledger.canary_checks(summary.run_id)
                )
            )
        finally:
            ledger.close()
    assert runs[0] == runs[1] and runs[0]
