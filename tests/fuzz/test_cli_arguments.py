"""Bad command lines: each known command with otherwise good arguments and one bad one
(an unknown option, a value of the wrong type or out of range, a bad choice, a missing or
extra argument, a workspace that does not exist). Each is refused naming the argument,
no traceback, the workspace untouched and no new one made."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .support import ENDPOINT, FUZZ, GUARD, assert_refused, assert_unchanged, invoke, snapshot

pytestmark = pytest.mark.fuzz

#: Reported bad command lines (and those the fuzzer found), kept as cases: argv with WS
#: for the workspace, and what the message must name.
KNOWN_BAD: list[tuple[list[str], str]] = [
    (["run", "hello", "-w", "WS", "-e", ENDPOINT, "--max-defect-rate", "5"], "--max-defect-rate"),
    (["run", "hello", "-w", "WS", "-e", ENDPOINT, "--max-items", "0"], "--max-items"),
    (["run", "hello", "-w", "WS", "-e", ENDPOINT, "--dataset", "../../outside"], "--dataset"),
    (["run", "hello", "-w", "WS", "--replay"], "--replay"),
    (["run", "hello", "-w", "WS", "-e", ENDPOINT, "--executor", "threads"], "--executor"),
    (["run", "hello", "-w", "WS", "-e", ENDPOINT, "--ray-address", "auto"], "--ray-address"),
    (["status", "run-x", "-w", "WS", "--embedder", "word2vec"], "--embedder"),
    (["export", "x", "-o", "out.jsonl", "-w", "WS", "--format", "xml"], "x"),
    (["qa", "run-x", "-n", "0", "--verifier", "human", "-w", "WS"], "--sample"),
]

_IDENT = st.text(string.ascii_lowercase, min_size=1, max_size=8)
_NOT_INT = st.text(min_size=1, max_size=8).filter(lambda t: not _parses(int, t))
_NOT_FLOAT = st.text(min_size=1, max_size=8).filter(lambda t: not _parses(float, t))


def _parses(kind: type, text: str) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


#: Per command: good arguments (WS is the workspace), its int and float options, and
#: whether it reads an existing workspace.
COMMANDS: dict[str, tuple[list[str], list[str], list[str], bool]] = {
    "run": (
        ["hello", "-w", "WS", "-e", ENDPOINT, *GUARD],
        ["--target", "--seed", "--concurrency", "--max-items"],
        ["--max-defect-rate"],
        False,
    ),
    "resume": (["run-x", "-w", "WS"], ["--concurrency"], [], True),
    "status": (["-w", "WS"], [], [], True),
    "show": (["item-x", "-w", "WS"], [], [], True),
    "export": (["run-x", "-o", "OUT/x.jsonl", "-w", "WS"], ["--version"], [], True),
    "qa": (
        ["run-x", "-n", "3", "--verifier", "human", "-w", "WS"],
        ["--sample", "--seed"],
        [],
        True,
    ),
    "explain": (["item-x", "-w", "WS"], [], [], True),
    "dedup": (
        ["-i", "OUT/in.jsonl", "-o", "OUT/out.jsonl"],
        ["--num-perm", "--shingle"],
        ["--threshold"],
        False,
    ),
}


@st.composite
def bad_command_lines(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A command line with one bad argument, and what the message may name."""
    command = draw(st.sampled_from(sorted(COMMANDS)))
    good, ints, floats, reads = COMMANDS[command]
    argv = [command, *good]
    kinds = ["unknown option", "extra argument", "unknown command"]
    kinds += ["not an int"] * bool(ints) + ["not a float"] * bool(floats)
    kinds += ["no workspace"] * reads
    kind = draw(st.sampled_from(kinds))
    if kind == "unknown option":
        option = "--" + draw(_IDENT) + "-fz"
        return [*argv, option], [option]
    if kind == "extra argument":
        extra = draw(_IDENT) + "fz"
        return [*argv, extra], [extra]
    if kind == "unknown command":
        name = draw(_IDENT) + "fz"
        return [name, *good], [name]
    if kind == "not an int":
        option = draw(st.sampled_from(ints))
        return [*argv, f"{option}={draw(_NOT_INT)}"], [option]
    if kind == "not a float":
        option = draw(st.sampled_from(floats))
        return [*argv, f"{option}={draw(_NOT_FLOAT)}"], [option]
    missing = "NOWS/" + draw(_IDENT)
    return [("NOWS/" + a.removeprefix("WS") if a == "WS" else a) for a in argv], [missing]


def _refused(tmp: Path, workspace: Path, argv: list[str], names: list[str]) -> None:
    nowhere = tmp / "never-made"
    ws_name = nowhere / names[0].removeprefix("NOWS/") if names[0].startswith("NOWS/") else None
    concrete = [
        str(ws_name)
        if a.startswith("NOWS/") and ws_name
        else str(workspace)
        if a == "WS"
        else a.replace("OUT/", f"{tmp}/")
        for a in argv
    ]
    names = [str(ws_name)] if ws_name else names
    before = snapshot(workspace)
    outcome = invoke(concrete)
    assert_refused(outcome, names)
    assert_unchanged(workspace, before)
    assert not nowhere.exists()
    assert not (tmp / "out.jsonl").exists() and not (tmp / "x.jsonl").exists()


@pytest.mark.parametrize(
    ("argv", "name"), KNOWN_BAD, ids=[" ".join(c[0][:1] + c[0][-2:]) for c in KNOWN_BAD]
)
def test_known_bad_command_lines(
    fuzz_dir: Path, fuzz_workspace: Path, argv: list[str], name: str
) -> None:
    _refused(fuzz_dir, fuzz_workspace, argv, [name])


@FUZZ
@given(bad=bad_command_lines())
def test_generated_bad_command_lines(
    fuzz_dir: Path, fuzz_workspace: Path, bad: tuple[list[str], list[str]]
) -> None:
    _refused(fuzz_dir, fuzz_workspace, *bad)
