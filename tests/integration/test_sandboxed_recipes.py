"""Sandbox steps in real runs: model-written code runs only in the hardened pool, and its
verdict (with the isolation layers in force) decides whether the example is kept."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

from synthfactory import EndpointConfig, ModelStep, Recipe, RunConfig, run_recipe
from synthfactory.ledger import Ledger
from synthfactory.recipe.model import SandboxStep, VerificationPolicy
from synthfactory.recipe.samplers import choice
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace
from tests.conftest import cli

MARKER_DIR = "/tmp"

PROGRAMS = {
    "good": "def add(a, b):\n    return a + b\nassert add(2, 3) == 5\n",
    "wrong": "def add(a, b):\n    return a - b\nassert add(2, 3) == 5\n",
    "escape": "open('/tmp/sf-escaped-{n}', 'w').write('x')\n",
    "network": "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)\n",
    "loop": "while True:\n    pass\n",
}

RECIPE = Recipe(
    name="sandboxed",
    samplers={"kind": choice(sorted(PROGRAMS))},
    steps=(
        ModelStep(name="write", prompt="PROGRAM {{ kind }}"),
        SandboxStep(name="run", code="{{ write }}", timeout_s=1.0),
    ),
    policy=VerificationPolicy(sample_rate=1.0),
)


def _scripts() -> list[tuple[str, str]]:
    return [(f"^PROGRAM {kind}$", code) for kind, code in PROGRAMS.items()]


def test_generated_code_is_kept_only_if_it_passes_in_the_sandbox(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    escaped = list(Path(MARKER_DIR).glob("sf-escaped-*"))
    with FakeServer(FakeServerConfig(scripts=_scripts())) as server:
        summary = asyncio.run(
            run_recipe(
                RECIPE,
                workspace=ws,
                config=RunConfig(target=4, seed=3, max_items=60),
                endpoints=[EndpointConfig(role="generator", url=server.url)],
            )
        )
    assert summary.status == "finished", summary.message
    assert summary.stored == 4
    assert list(Path(MARKER_DIR).glob("sf-escaped-*")) == escaped, "code escaped the sandbox"

    rows = LanceStore(Workspace(ws).dataset_uri("sandboxed")).read().to_pylist()
    assert {r["kind"] for r in rows} == {"good"}
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        items = ledger.items(summary.run_id)
    finally:
        ledger.close()
    seen = {}
    for item in items:
        verdict = item.verdicts[-1]
        seen.setdefault(item.payload["kind"], set()).add(verdict["status"])
        assert verdict["tier"] == "sandbox"
        assert "seccomp" in verdict["details"]["isolation"]
    assert seen["good"] == {"pass"}
    assert seen.get("wrong", {"fail"}) == {"fail"}
    assert seen.get("escape", {"fail"}) <= {"fail", "sandbox_violation"}
    assert seen.get("network", {"fail"}) <= {"fail", "sandbox_violation"}
    assert seen.get("loop", {"timeout"}) == {"timeout"}
    assert len(seen) >= 4  # most kinds were drawn, so the assertions above bit


def test_sandbox_tier_in_yaml_and_the_batch_command(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        textwrap.dedent(
            """\
            name: yaml_sandboxed
            samplers: {kind: {choice: [good, wrong]}}
            steps:
              - name: write
                model: {prompt: "PROGRAM {{ kind }}"}
              - name: run
                sandbox: {code: "{{ write }}", timeout_s: 2}
            """
        )
    )
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig(scripts=_scripts())) as server:
        done = cli(
            "run",
            str(recipe),
            "-w",
            str(ws),
            "--target",
            "3",
            "--json",
            "--endpoint",
            f"generator={server.url}",
        )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["stored"] == 3
    assert summary["tiers"]["sandbox"]["passed"] == 3

    jobs = tmp_path / "jobs.jsonl"
    out = tmp_path / "verdicts.jsonl"
    jobs.write_text(
        "\n".join(
            json.dumps({"id": kind, "code": PROGRAMS[kind], "timeout_s": 1})
            for kind in ("good", "wrong")
        )
        + "\n"
    )
    ran = cli("sandbox", "exec", "--input", str(jobs), "--output", str(out), "--workers", "2")
    assert ran.returncode == 0, ran.stderr
    verdicts = {v["id"]: v["verdict"] for v in map(json.loads, out.read_text().splitlines())}
    assert verdicts == {"good": "pass", "wrong": "fail"}
