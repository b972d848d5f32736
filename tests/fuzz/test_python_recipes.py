"""Bad Python recipes: files with syntax errors, files that raise (or exit) at import,
that define no recipe or one of the wrong type, a ``build_recipe()`` that fails, and
``module:attr`` references that do not resolve. Each is refused by ``synthfactory run``
naming the file and line (or the reference), no traceback, the workspace untouched."""

from __future__ import annotations

import itertools
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .support import ENDPOINT, FUZZ, GUARD, assert_refused, assert_unchanged, invoke, snapshot

pytestmark = pytest.mark.fuzz

HEADER = "from synthfactory.recipe.model import Recipe\n"

#: Reported bad recipes (and those the fuzzer found), kept as cases: id -> (file text or
#: None for a reference, the reference or None, the line to name or None).
KNOWN_BAD: dict[str, tuple[str | None, str | None, int | None]] = {
    "empty module name": (None, ":recipe", None),
    "relative module": (None, "..parent:recipe", None),
    "module with a space": (None, "my module:recipe", None),
    "attr not a name": (None, "json:1x", None),
    "attr of the wrong type": (None, "json:dumps", None),
    "no such attr": (None, "synthfactory.examples.hello:nope", None),
    "no such module": (None, "no_such_module_fz:recipe", None),
    "home of an unknown user": (None, "~no_such_user_fz/recipe.py", None),
    "exit at import": ("import sys\nsys.exit(2)\n", None, 2),
    "argparse at import": (
        "import argparse\nargparse.ArgumentParser().parse_args(['--nope'])\n",
        None,
        2,
    ),
    "build_recipe raises": ("def build_recipe():\n    raise ValueError('no')\n", None, 2),
    "build_recipe wants arguments": ("def build_recipe(n):\n    return n\n", None, None),
    "syntax error": ("x = 1\ndef (:\n", None, 2),
    "null byte": ("x = 1\n\x00\n", None, None),
    "recipe raises while built": (
        HEADER + "recipe = Recipe(name='bad name!', steps=())\n",
        None,
        2,
    ),
}

_EXCEPTIONS = [
    "ValueError",
    "RuntimeError",
    "KeyError",
    "TypeError",
    "ImportError",
    "AttributeError",
    "ZeroDivisionError",
    "AssertionError",
    "OSError",
    "NotImplementedError",
    "SystemExit",
    "UnicodeError",
    "RecursionError",
    "LookupError",
    "Exception",
]
_NOT_A_RECIPE = st.one_of(
    st.integers().map(repr),
    st.text(max_size=10).map(repr),
    st.lists(st.integers(), max_size=3).map(repr),
    st.sampled_from(["None", "len", "lambda: 1", "object()", "type", "{'name': 'x'}"]),
)
_NOISE = st.lists(st.from_regex(r"\Av_[a-z]{1,6} = [1-9][0-9]{0,2}\Z"), max_size=4).map(
    lambda lines: "".join(f"{ln}\n" for ln in lines)
)
_BROKEN = st.sampled_from(
    [
        "def (:",
        "x = = 1",
        "if True\n    pass",
        "return 5",
        "  indented = 1",
        "print('open",
        "class:",
        "import",
        "lambda x: yield",
        "f(**)",
        "x = [1, 2",
        "else:",
        "@\n",
        "1 +",
    ]
)


@st.composite
def bad_files(draw: st.DrawFn) -> tuple[str, int | None]:
    """The text of a bad recipe file and the line its problem is on (None: not a line)."""
    noise = draw(_NOISE)
    line = noise.count("\n") + 1
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return noise + draw(_BROKEN) + "\n", line
    if kind == 1:
        exc, text = draw(st.sampled_from(_EXCEPTIONS)), draw(st.text(max_size=40))
        return noise + f"raise {exc}({text!r})\n", line
    if kind == 2:
        return noise + draw(
            st.sampled_from(
                ["1 / 0", "undefined_name", "import no_such_fz", "[][1]", "{}['k']", "int('x')"]
            )
        ) + "\n", line
    if kind == 3:
        return noise + f"recipe = {draw(_NOT_A_RECIPE)}\n", None
    if kind == 4:
        return noise, None  # no recipe at all
    body = draw(
        st.sampled_from(
            [
                "    raise RuntimeError('no')",
                "    return 1",
                "    return None",
                "    1 / 0",
                "    import sys; sys.exit(3)",
            ]
        )
    )
    return noise + f"def build_recipe():\n{body}\n", None


@st.composite
def bad_refs(draw: st.DrawFn) -> tuple[str, str | None]:
    """A bad ``module:attr`` reference, and (for a module of our own) the module's text."""
    kind = draw(st.integers(0, 3))
    if kind == 0:  # a module of our own that cannot be imported
        text, _ = draw(bad_files().filter(lambda f: f[1] is not None))
        return "", text
    if kind == 1:  # not a reference at all
        module = draw(st.from_regex(r"\A[a-z.]{0,3}[ .\-!]{1,2}[a-z]{0,3}\Z"))
        return f"{module}:recipe", None
    if kind == 2:  # a real module without the attribute, or with one of the wrong type
        module = draw(st.sampled_from(["json", "os", "collections", "synthfactory.examples.hello"]))
        attr = draw(
            st.sampled_from(["sep", "dumps", "name", "__doc__"])
            | st.from_regex(r"\A[a-z]{1,8}_fz\Z")
        )
        return f"{module}:{attr}", None
    name = draw(st.from_regex(r"\A[a-z]{1,8}\Z"))
    return f"no_such_module_fz_{name}:recipe", None


@contextmanager
def _importable(directory: Path) -> Iterator[None]:
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        sys.path.remove(str(directory))


def _run(argument: str, workspace: Path, names: list[str]) -> str:
    before = snapshot(workspace)
    # After "--": a reference may start with "-".
    outcome = invoke(["run", "-w", str(workspace), "-e", ENDPOINT, *GUARD, "--", argument])
    assert_refused(outcome, names)
    assert_unchanged(workspace, before)
    return outcome.output


def _refused_file(directory: Path, workspace: Path, text: str, line: int | None) -> None:
    handle, name = tempfile.mkstemp(suffix=".py", dir=directory)
    with open(handle, "w", encoding="utf-8") as file:
        file.write(text)
    output = _run(name, workspace, [name])
    if line is not None:
        assert f"{name}, line {line}" in output, output


def _refused_ref(
    directory: Path, workspace: Path, ref: str, module_text: str | None, counter: Iterator[int]
) -> None:
    if module_text is None:
        _run(ref, workspace, [ref.partition(":")[0] or ref])
        return
    module = f"fuzz_recipe_module_{next(counter)}"  # new each time: imports are cached
    (directory / f"{module}.py").write_text(module_text, encoding="utf-8")
    with _importable(directory):
        _run(f"{module}:recipe", workspace, [module])


@pytest.fixture(scope="module")
def counter() -> Iterator[int]:
    return itertools.count()


@pytest.mark.parametrize("case", KNOWN_BAD.values(), ids=KNOWN_BAD.keys())
def test_known_bad_python_recipes(
    fuzz_dir: Path,
    fuzz_workspace: Path,
    counter: Iterator[int],
    case: tuple[str | None, str | None, int | None],
) -> None:
    text, ref, line = case
    if text is None:
        assert ref is not None
        _refused_ref(fuzz_dir, fuzz_workspace, ref, None, counter)
    else:
        _refused_file(fuzz_dir, fuzz_workspace, text, line)


@FUZZ
@given(
    bad=st.one_of(bad_files().map(lambda f: ("file", *f)), bad_refs().map(lambda r: ("ref", *r)))
)
def test_generated_bad_python_recipes(
    fuzz_dir: Path, fuzz_workspace: Path, counter: Iterator[int], bad: tuple[str, str, object]
) -> None:
    kind, first, second = bad
    if kind == "file":
        _refused_file(fuzz_dir, fuzz_workspace, first, second)  # type: ignore[arg-type]
    else:
        _refused_ref(fuzz_dir, fuzz_workspace, first, second, counter)  # type: ignore[arg-type]
