"""The ``audit`` typer sub-app: every command has help text and the right exit codes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from synthfactory.provenance.cli import app
from synthfactory.provenance.note import NoteSigner

from .conftest import LogSetup

runner = CliRunner()


def test_every_command_has_help_text() -> None:
    group = get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert set(commands) == {
        "keygen",
        "verify",
        "explain",
        "receipt",
        "verify-receipt",
        "export",
        "verify-statement",
    }
    for name, command in commands.items():
        assert command.help, name
        for param in command.params:
            assert getattr(param, "help", None), f"{name} {param.name}"


@pytest.fixture
def keyfile(filled: LogSetup, tmp_path: Path) -> Path:
    pub = tmp_path / "log.pub"
    pub.write_text(filled.signer.verifier.vkey() + "\n")
    return pub


def test_verify_explain_bundle_round_trip(filled: LogSetup, keyfile: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", "--log", str(filled.path), "--key", str(keyfile)])
    assert result.exit_code == 0, result.output
    assert "OK: 100 records" in result.output and "without --witness" in result.output

    wkey = tmp_path / "witness.pub"
    wkey.write_text(filled.witness.verifier.vkey())
    args = ["verify", "--log", str(filled.path), "--key", str(keyfile)]
    args += ["--witness", str(filled.witness.directory), "--witness-key", str(wkey)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "2 witnessed" in result.output

    result = runner.invoke(app, ["explain", "item-00007", "--log", str(filled.path)])
    assert result.exit_code == 0
    assert "step 'verify' attempt 3" in result.output
    assert "check json_schema [cheap] pass" in result.output

    out = tmp_path / "receipt.json"
    result = runner.invoke(
        app, ["receipt", "item-00007", "--log", str(filled.path), "--out", str(out)]
    )
    assert result.exit_code == 0 and out.exists()
    result = runner.invoke(app, ["verify-receipt", str(out), "--key", str(keyfile)])
    assert result.exit_code == 0 and "OK: 3 record(s)" in result.output

    data = orjson.loads(out.read_bytes())
    data["records"][2]["record"]["decision"] = "reject"
    out.write_bytes(orjson.dumps(data))
    result = runner.invoke(app, ["verify-receipt", str(out)])
    assert result.exit_code == 1 and "record #2" in result.output


def test_verify_fails_with_the_first_problem(filled: LogSetup, keyfile: Path) -> None:
    conn = sqlite3.connect(filled.path, isolation_level=None)
    conn.execute("DROP TRIGGER leaves_append_only_d")
    conn.execute("DELETE FROM leaves WHERE idx = 3")
    conn.close()
    result = runner.invoke(app, ["verify", "--log", str(filled.path), "--key", str(keyfile)])
    assert result.exit_code == 1
    assert "missing_record: record 3 is missing" in result.output


def test_keygen_and_unusable_input(tmp_path: Path) -> None:
    key = tmp_path / "k" / "log.key"
    result = runner.invoke(app, ["keygen", "--out", str(key), "--name", "log.example"])
    assert result.exit_code == 0 and key.exists()
    assert NoteSigner.from_skey(key.read_text()).skey() not in result.output
    result = runner.invoke(
        app, ["verify", "--log", str(tmp_path / "none"), "--key", str(key) + ".pub"]
    )
    assert result.exit_code == 2 and "no audit log" in result.output
