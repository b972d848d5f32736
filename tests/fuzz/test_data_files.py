"""Bad seed and dataset files: a recipe's ``seeds:`` file, its ``rows:`` and ``personas:``
data files, and the corpus ``synthfactory dedup`` reads, each with a bad line (not JSON,
not an object, not UTF-8, huge), empty, or a CSV. Each is refused naming the file (and
the line), no traceback, the workspace untouched and no output written."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .support import ENDPOINT, FUZZ, GUARD, assert_refused, assert_unchanged, invoke, snapshot

pytestmark = pytest.mark.fuzz

RECIPES = {
    "seeds": "seeds: {data}\n",
    "rows": "samplers:\n  r: {{rows: {data}}}\n",
    "personas": "samplers:\n  p: {{personas: {data}}}\n",
}
STEPS = "name: seeded\nsteps:\n  - name: w\n    model: {prompt: hi}\n"
GOOD = b'{"text": "a fine row", "n": 1}\n'

#: Reported bad files (and those the fuzzer found), kept as cases: (use, suffix, bytes,
#: bad line or None).
KNOWN_BAD: list[tuple[str, str, bytes, int | None]] = [
    ("rows", ".jsonl", GOOD + b"\xff\n", 2),
    ("personas", ".jsonl", b"", None),
    ("seeds", ".csv", b"a,b\n1,2\n", 1),
    ("rows", ".csv", b"a,b\n1,2\n", None),
    ("dedup", ".jsonl", GOOD + b"caf\xe9\n", 2),
    ("dedup", ".jsonl", GOOD + b'{"text": 5}\n', None),
    ("rows", ".parquet", b"PAR1 not really", None),
    ("seeds", ".jsonl", GOOD + b"[" * 100_000 + b"\n", 2),
]


@st.composite
def bad_lines(draw: st.DrawFn) -> bytes:
    """One line that is not a JSON object in UTF-8."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text(min_size=1, max_size=40).filter(_not_json)).encode()
    if kind == 1:
        value = draw(st.one_of(st.integers(), st.text(max_size=10), st.lists(st.integers())))
        return json.dumps(value).encode()
    if kind == 2:
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]))
        return b'{"text": "' + junk + b'"}'
    return draw(st.sampled_from([b"{", b"["])) * draw(st.integers(10_000, 200_000))  # huge


def _not_json(text: str) -> bool:
    if "\n" in text or "\r" in text or not text.strip():
        return False
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


@st.composite
def bad_files(draw: st.DrawFn) -> tuple[str, str, bytes, int | None]:
    use = draw(st.sampled_from(["seeds", "rows", "personas", "dedup"]))
    before = draw(st.integers(0, 3))
    if draw(st.integers(0, 9)) == 0:
        return use, ".jsonl", b"\n" * before if use != "dedup" else b"[]\n", None
    line = draw(bad_lines())
    after = draw(st.integers(0, 2))
    return use, ".jsonl", GOOD * before + line + b"\n" + GOOD * after, before + 1


def _refused(
    directory: Path, workspace: Path, use: str, suffix: str, content: bytes, line: int | None
) -> None:
    handle, data = tempfile.mkstemp(suffix=suffix, dir=directory)
    with open(handle, "wb") as file:
        file.write(content)
    out = Path(data).with_suffix(".out.jsonl")
    before = snapshot(workspace)
    if use == "dedup":
        argv = ["dedup", "-i", data, "-o", str(out)]
    else:
        recipe = Path(data).with_suffix(".yaml")
        recipe.write_text(STEPS + RECIPES[use].format(data=Path(data).name), encoding="utf-8")
        argv = ["run", str(recipe), "-w", str(workspace), "-e", ENDPOINT, *GUARD]
    outcome = invoke(argv)
    assert_refused(outcome, [data])
    if line is not None:
        assert f"{data}, line {line}" in outcome.output or f"{data}:{line}" in outcome.output, (
            outcome.output
        )
    assert_unchanged(workspace, before)
    assert not out.exists()


@pytest.mark.parametrize(
    "case", KNOWN_BAD, ids=[f"{c[0]}{c[1]}-{i}" for i, c in enumerate(KNOWN_BAD)]
)
def test_known_bad_data_files(
    fuzz_dir: Path, fuzz_workspace: Path, case: tuple[str, str, bytes, int | None]
) -> None:
    _refused(fuzz_dir, fuzz_workspace, *case)


@FUZZ
@given(bad=bad_files())
def test_generated_bad_data_files(
    fuzz_dir: Path, fuzz_workspace: Path, bad: tuple[str, str, bytes, int | None]
) -> None:
    _refused(fuzz_dir, fuzz_workspace, *bad)
