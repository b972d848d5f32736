"""The command line as a user meets it: help, YAML recipes, clear errors, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main

import synthfactory.cli
from synthfactory.testing import FakeServer
from synthfactory.workspace import Workspace
from tests.conftest import cli

HELLO_YAML = Path(synthfactory.cli.__file__).parent / "examples" / "hello.yaml"


def test_every_command_and_option_has_help() -> None:
    group = typer.main.get_command(synthfactory.cli.app)
    assert group.help
    commands = group.commands  # type: ignore[attr-defined]
    assert {"run", "resume", "status", "show", "export"} <= set(commands)
    for name, command in commands.items():
        assert command.help, f"command {name} has no help"
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts} has no help"


def test_help_runs() -> None:
    done = cli("run", "--help")
    assert done.returncode == 0
    assert "--endpoint" in done.stdout


def test_yaml_recipe_runs_end_to_end(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer() as server:
        done = cli(
            "run",
            str(HELLO_YAML),
            "-w",
            str(ws),
            "--target",
            "12",
            "--json",
            "--endpoint",
            f"generator={server.url}",
        )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["stored"] == 12
    assert summary["recipe"] == "hello_yaml"
    out = tmp_path / "hello.jsonl"
    exported = cli(
        "export", summary["run_id"], "-w", str(ws), "--format", "jsonl", "--out", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12
    assert all(8 <= len(r["answer"]["fact"]) <= 400 for r in rows)
    shown = json.loads(cli("show", rows[0]["item_id"], "-w", str(ws)).stdout)
    assert shown["verdicts"][0]["tier"] == "cheap"


def test_malformed_yaml_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(HELLO_YAML.read_text().replace("temperature: 0.7", "temprature: 0.7"))
    done = cli(
        "run", str(bad), "-w", str(tmp_path / "ws"), "--endpoint", "generator=http://127.0.0.1:9/v1"
    )
    assert done.returncode == 2
    assert "bad.yaml, line 25, steps[0].model.params.temprature" in done.stderr
    assert "temprature" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "no-such-recipe"), "unknown recipe"),
        (("run", "missing.yaml"), "does not exist"),
        (("run", "hello", "--endpoint", "judge=http://127.0.0.1:9/v1"), "not used by recipe"),
        (("run", "hello", "--endpoint", "generator"), "expected ROLE=URL"),
        (("status", "run-nope"), "no run 'run-nope'"),
        (("show", "item-nope"), "no item 'item-nope'"),
        (("export", "nothing", "--out", "x.jsonl"), "neither a run id nor a dataset"),
    ],
)
def test_bad_input_gets_a_clear_message(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    ws = tmp_path / "ws"
    Workspace(ws, create=True)  # a refused run leaves none behind, so make one
    done = cli(*args, "-w", str(ws))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_newer_workspace_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "workspace.json").write_text('{"format": 42}')
    done = cli("status", "-w", str(ws))
    assert done.returncode == 2
    assert "newer synthfactory" in done.stderr


def test_status_lists_runs(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakeServer() as server:
        first = json.loads(
            cli(
                "run",
                "hello",
                "-w",
                str(ws),
                "--target",
                "3",
                "--json",
                "--endpoint",
                f"generator={server.url}",
            ).stdout
        )
    runs = json.loads(cli("status", "-w", str(ws), "--json").stdout)
    assert [r["run_id"] for r in runs] == [first["run_id"]]
    assert runs[0]["stored"] == 3
    table = cli("status", "-w", str(ws))
    assert first["run_id"] in table.stdout
