"""Bad YAML recipes: the example recipes, mutated (a required key deleted, a value of the
wrong type, an unknown key, a bad value, broken bytes or indentation, random files).
Each is refused by ``synthfactory run`` with its file and line, no traceback, and the
workspace untouched."""

from __future__ import annotations

import re
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from synthfactory.recipe.model import SAMPLING_PARAMS
from synthfactory.verify.checks import CHECKS

from .support import ENDPOINT, FUZZ, GUARD, assert_refused, assert_unchanged, invoke, snapshot

pytestmark = pytest.mark.fuzz

BASES = ("hello.yaml", "quiz.yaml")

#: Reported bad recipes (and those the fuzzer found), kept as cases: id -> file bytes.
KNOWN_BAD: dict[str, bytes] = {
    "deep nesting": b"name: deep\nsteps: " + b"[" * 5000 + b"\n",
    "deep mapping": b"name: deep\nsteps:\n" + b"".join(b" " * i + b"a:\n" for i in range(3000)),
    "alias to itself": b"name: a\nsteps: &s [*s]\n",
    "NUL byte": b"name: a\x00\nsteps: []\n",
    "lone surrogate": b"name: a\nsteps:\n  - name: \xed\xa0\x80\n",
    "BOM then garbage": b"\xef\xbb\xbf\xff\n",
    "tab indentation": b"name: a\nsteps:\n\t- name: w\n",
    "seeds a directory": b"name: a\nseeds: .\nsteps:\n  - name: w\n    model: {prompt: hi}\n",
    "taxonomy file a number": (
        b"name: a\nsamplers:\n  t: {taxonomy: {file: 5}}\nsteps:\n  - name: w\n"
        b"    model: {prompt: hi}\n"
    ),
    "rows fields a number": (
        b"name: a\nsamplers:\n  r: {rows: {path: topics.yaml, fields: 5}}\nsteps:\n"
        b"  - name: w\n    model: {prompt: hi}\n"
    ),
    "step module exits at import": (
        b"name: a\nsteps:\n  - name: w\n    python: 'synthfactory.cli:main'\n"
        b"  - name: v\n    python: 'this_is:not a ref'\n"
    ),
    "dataset name escapes": (
        b"name: a\nsteps:\n  - name: w\n    model: {prompt: hi}\ndataset: {name: ../../x}\n"
    ),
    "timeout a string": b"name: a\nsteps:\n  - name: s\n    sandbox: {code: x, timeout_s: '5'}\n",
}


# -- what a mutation may touch ---------------------------------------------------------

_WRONG = {
    "str": st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)),
    "int": st.one_of(
        st.text(string.ascii_letters, min_size=1, max_size=5),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    ),
    "list": st.one_of(st.text(max_size=5), st.integers(), st.booleans(), st.just({"a": 1})),
    "dict": st.one_of(st.text(max_size=5), st.integers(), st.booleans(), st.just([1, 2])),
}
_IDENT = st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z")


def _steps(data: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(data["steps"]))


def _typed_paths(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Paths whose value has a known type, with that type."""
    paths: list[tuple[tuple[Any, ...], str]] = [
        (("name",), "str"),
        (("steps",), "list"),
        (("samplers",), "dict"),
    ]
    for i, step in _steps(data):
        paths += [(("steps", i), "dict"), (("steps", i, "name"), "str")]
        if "model" in step:
            at = ("steps", i, "model")
            paths += [(at, "dict"), ((*at, "prompt"), "str"), ((*at, "role"), "str")]
            paths += [((*at, "params"), "dict"), ((*at, "max_attempts"), "int")]
        if "dedup" in step:
            paths += [(("steps", i, "dedup", "field"), "str")]
            paths += [(("steps", i, "dedup", "shingle"), "int")]
    for key in data.get("samplers", {}):
        paths.append((("samplers", key), "dict"))
    if "dataset" in data:
        paths += [(("dataset", "fields"), "list"), (("dataset",), "dict")]
    return paths


def _required_paths(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = [("name",), ("steps",)]
    for i, step in _steps(data):
        paths.append(("steps", i, "name"))
        for kind in ("model", "verify", "dedup"):
            if kind in step:
                paths.append(("steps", i, kind))
        if "model" in step:
            paths.append(("steps", i, "model", "prompt"))
        if "check" in step.get("verify", {}):
            paths.append(("steps", i, "verify", "check"))
        if "dedup" in step:
            paths.append(("steps", i, "dedup", "field"))
    paths += [("samplers", key, next(iter(spec))) for key, spec in data["samplers"].items()]
    return paths


def _closed_maps(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], set[str]]]:
    """Mappings that refuse an unknown key, with the keys they know."""
    maps: list[tuple[tuple[Any, ...], set[str]]] = [
        (
            (),
            {
                "name",
                "version",
                "description",
                "seeds",
                "samplers",
                "steps",
                "dataset",
                "policy",
                "coverage",
            },
        ),
        (("dataset",), {"name", "fields"}),
    ]
    for i, step in _steps(data):
        maps.append(
            (
                ("steps", i),
                {
                    "name",
                    "model",
                    "python",
                    "verify",
                    "judge",
                    "sandbox",
                    "dedup",
                    "output",
                    "tier",
                },
            )
        )
        if "model" in step:
            at = ("steps", i, "model")
            maps.append(
                (at, {"prompt", "role", "system", "schema", "params", "max_attempts", "parse"})
            )
            maps.append(((*at, "params"), set(SAMPLING_PARAMS)))
        if "dedup" in step:
            maps.append(
                (
                    ("steps", i, "dedup"),
                    {"field", "method", "threshold", "num_perm", "shingle", "embedder", "patience"},
                )
            )
    return maps


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


# -- the mutations: each returns the bad file's bytes and, where known, the line to name --


@st.composite
def _data_mutation(draw: st.DrawFn, data: dict[str, Any]) -> bytes:
    kind = draw(st.sampled_from(["delete", "retype", "unknown key", "bad value"]))
    if kind == "delete":
        path = draw(st.sampled_from(_required_paths(data)))
        del _get(data, path[:-1])[path[-1]]
    elif kind == "retype":
        path, typ = draw(st.sampled_from(_typed_paths(data)))
        _set(data, path, draw(_WRONG[typ]))
    elif kind == "unknown key":
        path, known = draw(st.sampled_from(_closed_maps(data)))
        key = draw(_IDENT.filter(lambda k: k not in known))
        _get(data, path)[key] = draw(st.one_of(st.none(), st.integers(), st.text(max_size=5)))
    else:
        draw(_bad_value(data))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()


@st.composite
def _bad_value(draw: st.DrawFn, data: dict[str, Any]) -> None:
    steps = data["steps"]
    models = [i for i, s in enumerate(steps) if "model" in s]
    verifies = [i for i, s in enumerate(steps) if "check" in s.get("verify", {})]
    choice = draw(st.integers(0, 7))
    if choice == 0:  # a Jinja template that never closes
        i = draw(st.sampled_from(models))
        steps[i]["model"]["prompt"] = "{{ " + draw(st.text(max_size=20)).replace("}", "")
    elif choice == 1:  # a JSON schema that is not one
        i = draw(st.sampled_from(models))
        steps[i]["model"]["schema"] = {"type": draw(st.one_of(st.integers(), _IDENT))}
    elif choice == 2 and verifies:  # an unknown built-in check
        i = draw(st.sampled_from(verifies))
        steps[i]["verify"]["check"] = draw(_IDENT.filter(lambda c: c not in CHECKS))
    elif choice == 3:  # an unknown sampler kind
        key = draw(st.sampled_from(sorted(data["samplers"])))
        data["samplers"][key] = {draw(_IDENT.filter(lambda k: k != "choice")) + "_x": [1]}
    elif choice == 4:  # a number out of range
        i = draw(st.sampled_from(models))
        steps[i]["model"]["max_attempts"] = draw(st.integers(max_value=0))
    elif choice == 5:  # two steps with one name
        steps.append(dict(steps[0]))
    elif choice == 6:  # a python step that is no module:function
        steps.append(
            {
                "name": "py",
                "python": draw(
                    st.text(max_size=20).filter(lambda t: not re.fullmatch(r"[\w.]+:[\w.]+", t))
                ),
            }
        )
    else:  # a python step whose module does not exist
        steps.append({"name": "py", "python": f"no_such_module_fz_{draw(_IDENT)}:fn"})


@st.composite
def _text_mutation(draw: st.DrawFn, text: str) -> tuple[bytes, int | None]:
    kind = draw(st.integers(0, 5))
    raw = text.encode()
    if kind in (0, 1):  # a control character or bytes that are not UTF-8, at a known line
        offset = draw(st.integers(0, len(raw)))
        junk = draw(
            st.sampled_from([b"\x01", b"\x07", b"\x1b", b"\x7f", b"\x00"])
            if kind == 0
            else st.sampled_from([b"\xff", b"\xfe", b"\x80", b"\xc3\x28", b"\xed\xa0\x80"])
        )
        return raw[:offset] + junk + raw[offset:], raw.count(b"\n", 0, offset) + 1
    if kind == 2:  # cut off before the steps
        end = text.index("\nsteps:")
        return raw[: draw(st.integers(0, end))], None
    if kind == 3:  # a tab where a nested key's indentation was
        lines = text.split("\n")
        keyed = [i for i, ln in enumerate(lines) if re.match(r"^ {2,}(- )?[a-z_]+:( |$)", ln)]
        i = draw(st.sampled_from(keyed))
        lines[i] = "\t" + lines[i].lstrip(" ")
        return "\n".join(lines).encode(), i + 1
    if kind == 4:  # random bytes
        return draw(st.binary(max_size=300)), None
    return draw(st.text(max_size=300)).encode(), None  # random text


@st.composite
def bad_recipes(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """A bad recipe file's bytes and, when the mutation knows it, the line to be named."""
    base = draw(st.sampled_from(BASES))
    text = (Path(__file__).parents[2] / "src/synthfactory/examples" / base).read_text()
    if draw(st.booleans()):
        return draw(_data_mutation(yaml.safe_load(text))), None
    return draw(_text_mutation(text))


def _refused(fuzz_dir: Path, workspace: Path, content: bytes, line: int | None) -> None:
    handle, name = tempfile.mkstemp(suffix=".yaml", dir=fuzz_dir)  # unique: loads are cached
    with open(handle, "wb") as file:
        file.write(content)
    before = snapshot(workspace)
    outcome = invoke(["run", name, "-w", str(workspace), "-e", ENDPOINT, *GUARD])
    assert_refused(outcome, [name])
    located = re.search(rf"{re.escape(name)}, line (\d+)", outcome.output)
    assert located, f"no line named: {outcome.output!r}"
    if line is not None:
        assert int(located.group(1)) == line, outcome.output
    assert_unchanged(workspace, before)


@pytest.mark.parametrize("content", KNOWN_BAD.values(), ids=KNOWN_BAD.keys())
def test_known_bad_yaml_recipes(fuzz_dir: Path, fuzz_workspace: Path, content: bytes) -> None:
    _refused(fuzz_dir, fuzz_workspace, content, None)


@FUZZ
@given(bad=bad_recipes())
def test_generated_bad_yaml_recipes(
    fuzz_dir: Path, fuzz_workspace: Path, bad: tuple[bytes, int | None]
) -> None:
    _refused(fuzz_dir, fuzz_workspace, *bad)
