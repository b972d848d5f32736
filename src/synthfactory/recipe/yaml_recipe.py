"""Recipes written in YAML: the same :class:`Recipe` a user can write in Python, with no code.

Loading is two passes over one parse. pydantic checks the shape (required fields, unknown
fields, types); then the builder checks the meaning (sampler arguments, Jinja templates,
JSON schemas, ``module:function`` references, built-in checks, seed files) and builds the
``Recipe``. Every problem becomes one ``RecipeError`` paragraph that names the file, the
line and the field path, e.g.::

    recipe.yaml, line 12, steps[1].model.params.temprature: unknown sampling parameter ...

Line numbers come from the composed YAML node tree: a map from key path (a tuple of
mapping keys and list indices) to the line the key or item starts on.

A ``python:`` reference is imported as it is written; the module must be importable
(installed, or on ``PYTHONPATH``). The loader never changes ``sys.path``.
"""

from __future__ import annotations

import difflib
import importlib
import json
import re
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from synthfactory.errors import RecipeError
from synthfactory.recipe.model import (
    SAMPLING_PARAMS,
    Coverage,
    Dataset,
    DedupStep,
    JudgeStep,
    ModelStep,
    PythonStep,
    Recipe,
    SandboxStep,
    Step,
    VerificationPolicy,
    VerifyStep,
)
from synthfactory.recipe.samplers import (
    Constraint,
    choice,
    combine,
    lognormal,
    normal,
    randint,
    uniform,
    weighted,
)
from synthfactory.recipe.seed_data import personas, rows
from synthfactory.recipe.taxonomy import taxonomy
from synthfactory.recipe.templates import compile_template
from synthfactory.verify.checks import CHECKS, build_check

KeyPath = tuple[str | int, ...]

_STEP_KINDS = ("model", "python", "verify", "judge", "sandbox", "dedup")
_SAMPLER_KINDS = (
    "choice",
    "weighted",
    "randint",
    "uniform",
    "normal",
    "lognormal",
    "taxonomy",
    "personas",
    "rows",
    "combine",
)
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: How many further problems a shape error lists after the first one.
_MORE_PROBLEMS = 4


def load_yaml_recipe(path: str | Path) -> Recipe:
    """Load, validate and build the recipe in the YAML file at ``path``.

    Raises ``RecipeError`` with a one-paragraph message naming the file, the line and the
    field for anything wrong: I/O, encoding, YAML syntax, shape, and meaning.
    """
    file = str(path)
    text = _read_text(Path(path), file)
    root, data = _parse(text, file)
    source = _Source(file, _line_map(root, file))
    if not isinstance(data, dict):
        raise source.error(
            (),
            f"the top level must be a mapping with at least 'name' and 'steps', got {_kind(data)}",
        )
    try:
        spec = _RecipeSpec.model_validate(data)
    except ValidationError as err:
        raise _shape_error(err, source) from None
    return _Builder(source, Path(path).parent).build(spec)


# ---------------------------------------------------------------------------------------
# The shape of a YAML recipe.


class _Spec(BaseModel):
    # strict: YAML already gives real types, so "3" is not quietly an int.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _ModelSpec(_Spec):
    prompt: str
    role: str = Field(default="generator", min_length=1)
    system: str | None = None
    # ``schema`` would shadow a BaseModel attribute, hence the alias.
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    params: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int = Field(default=3, ge=1)
    # A ``module:function`` from the answer's text to the stored value (instead of a schema).
    parse: str | None = None


class _JudgeSpec(_Spec):
    rubric: str
    role: str = Field(default="judge", min_length=1)
    threshold: int = Field(default=7, ge=1, le=10)
    uncertain_margin: int = Field(default=0, ge=0, le=9)
    system: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int = Field(default=3, ge=1)


class _SandboxSpec(_Spec):
    code: str
    timeout_s: float = Field(default=5.0, gt=0, le=600)

    @field_validator("timeout_s", mode="before")
    @classmethod
    def _int_timeout(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class _DedupSpec(_Spec):
    field: str = Field(min_length=1)
    method: Literal["exact", "minhash", "semantic"] = "minhash"
    threshold: float | None = Field(default=None, gt=0.0, le=1.0)
    num_perm: int = Field(default=128, ge=16)
    shingle: int = Field(default=3, ge=1)
    embedder: str = Field(default="embedder", min_length=1)
    patience: int = Field(default=25, ge=1)

    @field_validator("threshold", mode="before")
    @classmethod
    def _int_threshold(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class _CoverageSpec(_Spec):
    field: str = Field(min_length=1)
    targets: int | dict[str, int]
    label: str | None = Field(default=None, min_length=1)


class _PolicySpec(_Spec):
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    sampled_tiers: list[str] = Field(default_factory=lambda: ["sandbox"])
    critical_field: str = Field(default="critical", min_length=1)

    @field_validator("sample_rate", mode="before")
    @classmethod
    def _int_rate(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class _StepSpec(_Spec):
    name: str = Field(min_length=1)
    model: _ModelSpec | None = None
    python: str | None = None
    verify: dict[str, Any] | None = None
    judge: _JudgeSpec | None = None
    sandbox: _SandboxSpec | None = None
    dedup: _DedupSpec | None = None
    output: str | None = Field(default=None, min_length=1)
    tier: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> _StepSpec:
        kinds = [kind for kind in _STEP_KINDS if getattr(self, kind) is not None]
        if len(kinds) != 1:
            has = "none of them" if not kinds else "both " + " and ".join(repr(k) for k in kinds)
            raise PydanticCustomError(
                "step_kind",
                "a step needs exactly one of 'model', 'python', 'verify', 'judge', "
                "'sandbox' or 'dedup'; this one has {has}",
                {"has": has},
            )
        if self.output is not None and self.model is None:
            raise PydanticCustomError("step_option", "'output' applies only to model steps")
        if self.tier is not None and not (self.verify or self.judge or self.sandbox or self.dedup):
            raise PydanticCustomError(
                "step_option", "'tier' applies only to verify, judge, sandbox and dedup steps"
            )
        return self


class _DatasetSpec(_Spec):
    name: str | None = Field(default=None, min_length=1)
    fields: list[str] | None = None


class _RecipeSpec(_Spec):
    name: str
    version: str = "1"
    description: str | None = None
    # A list of mappings or a path: checked by the builder, which can say which it expected.
    seeds: Any = None
    samplers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    steps: list[_StepSpec] = Field(min_length=1)
    dataset: _DatasetSpec | None = None
    policy: _PolicySpec | None = None
    coverage: _CoverageSpec | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _int_version(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


# ---------------------------------------------------------------------------------------
# Reading and parsing, with line numbers.


class _Source:
    """The recipe file's name and the line of every key path in it."""

    def __init__(self, file: str, lines: Mapping[KeyPath, int]) -> None:
        self.file = file
        self.lines = lines

    def line_of(self, path: Iterable[Any]) -> int:
        """The line of the deepest part of ``path`` the file spells out."""
        found: KeyPath = ()
        line = self.lines.get((), 1)
        for part in path:
            for candidate in (part, str(part)):
                if (*found, candidate) in self.lines:
                    found = (*found, candidate)
                    line = self.lines[found]
                    break
            # A part the file does not spell (a missing field, a pydantic-internal
            # location) is skipped: the line stays at its nearest known parent.
        return line

    def error(self, path: KeyPath, message: str) -> RecipeError:
        """A RecipeError located at ``path``."""
        line = self.line_of(path)
        where = f"{self.file}, line {line}"
        field = _format_path(path)
        if field:
            where += f", {field}"
        return RecipeError(f"{where}: {message}", file=self.file, line=line, field=field)


def _format_path(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        if part == "[key]":  # pydantic's marker for "the key itself", said in the message
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _read_text(path: Path, file: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecipeError(f"{file}: recipe file not found", file=file) from None
    except IsADirectoryError:
        raise RecipeError(f"{file}: is a directory, not a recipe file", file=file) from None
    except OSError as err:
        raise RecipeError(
            f"{file}: cannot read the recipe file: {err.strerror}", file=file
        ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise RecipeError(
            f"{file}, line {line}: the file is not UTF-8 text (byte {raw[err.start]:#04x} "
            f"at offset {err.start}); save it as UTF-8",
            file=file,
            line=line,
        ) from None


def _parse(text: str, file: str) -> tuple[yaml.Node | None, Any]:
    """The composed node tree and the constructed data, from one parse."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as err:
        raise _reader_error(err, text, file) from None
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.reader.ReaderError as err:
        raise _reader_error(err, text, file) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        constructor = isinstance(err, yaml.constructor.ConstructorError)
        what = "unsupported YAML" if constructor else "YAML syntax error"
        problem = err.problem or err.context or "cannot parse"
        context = ""
        if err.context and err.problem and err.context_mark is not None:
            context = f" ({err.context} on line {err.context_mark.line + 1})"
        raise RecipeError(
            f"{file}, line {line}: {what}: {_one_line(problem)}{context}", file=file, line=line
        ) from None
    except yaml.YAMLError as err:
        raise RecipeError(f"{file}: YAML error: {_one_line(str(err))}", file=file) from None
    finally:
        loader.dispose()
    return root, data


def _reader_error(err: yaml.reader.ReaderError, text: str, file: str) -> RecipeError:
    line = text.count("\n", 0, err.position) + 1
    char = err.character
    code = f"U+{char if isinstance(char, int) else ord(char):04X}"
    return RecipeError(
        f"{file}, line {line}: YAML syntax error: character {code} is not allowed in YAML "
        f"({err.reason})",
        file=file,
        line=line,
    )


def _line_map(root: yaml.Node | None, file: str) -> dict[KeyPath, int]:
    """Key path -> 1-based line of the key (mapping entries) or the item (list entries)."""
    if root is None:
        return {(): 1}
    lines: dict[KeyPath, int] = {(): root.start_mark.line + 1}
    # Iterative, so a deep document cannot hit the recursion limit; ``on_path`` catches
    # an alias that contains itself (``&a [*a]``), which would never end.
    stack: list[tuple[yaml.Node, KeyPath, frozenset[int]]] = [(root, (), frozenset())]
    # PyYAML keeps the last of two equal keys silently; a recipe refuses them.
    duplicates: list[tuple[int, KeyPath, int]] = []
    while stack:
        node, path, on_path = stack.pop()
        if id(node) in on_path:
            raise RecipeError(
                f"{file}, line {node.start_mark.line + 1}: a YAML alias refers to itself",
                file=file,
            )
        inner = on_path | {id(node)}
        children: list[tuple[KeyPath, int, yaml.Node]] = []
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                child = (*path, key_node.value)
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    duplicates.append((line, child, seen[key_node.value]))
                seen[key_node.value] = line
                children.append((child, line, value_node))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                children.append(((*path, index), item.start_mark.line + 1, item))
        for child, line, child_node in children:
            lines.setdefault(child, line)
            stack.append((child_node, child, inner))
    if duplicates:
        line, child, first = min(duplicates, key=lambda duplicate: duplicate[0])
        raise RecipeError(
            f"{file}, line {line}, {_format_path(child)}: duplicate key {child[-1]!r} "
            f"(first on line {first})",
            file=file,
            line=line,
            field=_format_path(child),
        )
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


# ---------------------------------------------------------------------------------------
# Shape errors: pydantic's errors, said in the recipe's terms.

_EXPECTED = {
    "model_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
}


def _shape_error(err: ValidationError, source: _Source) -> RecipeError:
    # An unknown field comes first: it is usually a typo, and the "missing" errors beside
    # it are its consequence. Then the rest in file order.
    errors = sorted(
        err.errors(), key=lambda e: (e["type"] != "extra_forbidden", source.line_of(e["loc"]))
    )
    problems = [(source.line_of(e["loc"]), _format_path(e["loc"]), _explain(e)) for e in errors]
    line, field, message = problems[0]
    text = f"{source.file}, line {line}, {field}: {message}"
    more = [f"line {ln}, {fl}: {msg}" for ln, fl, msg in problems[1 : 1 + _MORE_PROBLEMS]]
    if len(problems) > 1 + _MORE_PROBLEMS:
        more.append(f"{len(problems) - 1 - _MORE_PROBLEMS} more")
    if more:
        text += f" (also: {'; '.join(more)})"
    return RecipeError(text, file=source.file, line=line, field=field)


def _explain(error: ErrorDetails) -> str:
    kind, loc = error["type"], error["loc"]
    if kind == "missing":
        return f"missing required field {loc[-1]!r}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_fields(loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listed = f"; allowed fields: {', '.join(allowed)}" if allowed else ""
        return f"unknown field {key!r}{hint}{listed}"
    if kind in ("step_kind", "step_option"):
        return error["msg"]
    if loc and loc[-1] == "[key]":
        return f"keys must be strings, got {_kind(error['input'])}"
    expected = _EXPECTED.get(kind)
    if expected is None:
        msg = error["msg"]
        expected = msg[:1].lower() + msg[1:]
    return f"{expected}, got {_kind(error['input'])}"


def _allowed_fields(loc: Iterable[Any]) -> list[str]:
    """The field names the spec model at ``loc`` accepts (by their YAML spelling)."""
    tp: Any = _RecipeSpec
    for part in loc:
        tp = _unwrap_optional(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {info.alias or name: info for name, info in tp.model_fields.items()}
            if part not in fields:
                return []
            tp = fields[part].annotation
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return []
    tp = _unwrap_optional(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


def _unwrap_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [arg for arg in get_args(tp) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


# ---------------------------------------------------------------------------------------
# Meaning: from a well-shaped spec to a Recipe.


def _did_you_mean(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Builder:
    """Checks what pydantic cannot (references, templates, schemas) and builds the Recipe."""

    def __init__(self, source: _Source, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir

    def build(self, spec: _RecipeSpec) -> Recipe:
        samplers = {key: self._sampler(key, sampler) for key, sampler in spec.samplers.items()}
        seeds = self._seeds(spec.seeds)
        steps = tuple(self._step(index, step) for index, step in enumerate(spec.steps))
        first_line: dict[str, int] = {}
        for index, step in enumerate(spec.steps):
            at: KeyPath = ("steps", index, "name")
            if step.name in first_line:
                raise self.source.error(
                    at,
                    f"two steps are called {step.name!r} (the first is on line "
                    f"{first_line[step.name]})",
                )
            first_line[step.name] = self.source.line_of(at)
        dataset = None
        if spec.dataset is not None:
            fields = tuple(spec.dataset.fields) if spec.dataset.fields is not None else None
            dataset = Dataset(name=spec.dataset.name or spec.name, fields=fields)
        try:
            return Recipe(
                name=spec.name,
                steps=steps,
                samplers=samplers,
                seeds=seeds,
                dataset=dataset,
                version=spec.version,
                description=spec.description or "",
                policy=VerificationPolicy(
                    sample_rate=spec.policy.sample_rate,
                    sampled_tiers=tuple(spec.policy.sampled_tiers),
                    critical_field=spec.policy.critical_field,
                )
                if spec.policy is not None
                else VerificationPolicy(),
                coverage=Coverage(spec.coverage.field, spec.coverage.targets, spec.coverage.label)
                if spec.coverage is not None
                else None,
            )
        except RecipeError as err:
            # Everything the Recipe checks with a location is checked above; what is left
            # (the recipe name's spelling) is located at ``name``.
            raise self.source.error(("name",), err.message) from None

    # -- samplers and seeds

    def _sampler(
        self, key: str, spec: Mapping[str, Any], where: KeyPath | None = None
    ) -> Callable[..., Any]:
        at: KeyPath = where or ("samplers", key)
        if len(spec) != 1:
            got = ", ".join(repr(k) for k in spec) or "none"
            raise self.source.error(
                at, f"a sampler needs exactly one of {', '.join(_SAMPLER_KINDS)}; got {got}"
            )
        ((kind, args),) = spec.items()
        at = (*at, kind)
        try:
            if kind == "choice":
                if not isinstance(args, list):
                    raise ValueError("choice takes a list of values, e.g. {choice: [a, b]}")
                return choice(args)
            if kind == "weighted":
                if not isinstance(args, dict) or not all(_is_number(w) for w in args.values()):
                    raise ValueError(
                        "weighted takes a mapping of value to weight, e.g. "
                        "{weighted: {easy: 3, hard: 1}}"
                    )
                return weighted(args)
            if kind == "randint":
                low, high = _pair(args, kind, int_only=True)
                return randint(int(low), int(high))
            if kind == "uniform":
                low, high = _pair(args, kind, int_only=False)
                return uniform(float(low), float(high))
            return self._data_sampler(at, kind, args)
        except ValueError as err:
            raise self.source.error(at, str(err)) from None
        except KeyError:
            pass
        raise self.source.error(
            at,
            f"unknown sampler kind {str(kind)!r}{_did_you_mean(str(kind), _SAMPLER_KINDS)}; "
            f"known kinds: {', '.join(_SAMPLER_KINDS)}",
        )

    def _data_sampler(self, at: KeyPath, kind: str, args: Any) -> Callable[..., Any]:
        """The samplers over distributions, trees, records and combinations."""
        if kind in ("normal", "lognormal"):
            if not isinstance(args, dict) or not {"mean", "std"} <= set(args):
                raise ValueError(f"{kind} takes {{mean: M, std: S}} and optional low, high, digits")
            unknown = set(args) - {"mean", "std", "low", "high", "digits"}
            if unknown:
                raise ValueError(f"{kind}: unknown option(s) {sorted(unknown)}")
            if not all(_is_number(args[k]) for k in args if k != "digits"):
                raise ValueError(f"{kind}: mean, std, low and high must be numbers")
            make = normal if kind == "normal" else lognormal
            bounds = {k: float(args[k]) for k in ("low", "high") if k in args}
            return make(args["mean"], args["std"], digits=args.get("digits"), **bounds)
        if kind == "taxonomy":
            if isinstance(args, str):
                return taxonomy(self.base_dir / args)
            if isinstance(args, dict) and ("file" in args or "tree" in args):
                tree = self.base_dir / args["file"] if "file" in args else args["tree"]
                return taxonomy(tree, by=args.get("by", "leaf"), sep=args.get("sep", "/"))
            raise ValueError(
                "taxonomy takes a file name, or {tree: {...}} / {file: F} with optional by, sep"
            )
        if kind == "personas":
            if isinstance(args, str):
                return personas(self.base_dir / args)
            if isinstance(args, list):
                return personas(args)
            raise ValueError("personas takes a list of mappings or a .jsonl/.parquet file name")
        if kind == "rows":
            if isinstance(args, str):
                return rows(self.base_dir / args)
            if isinstance(args, dict) and "path" in args:
                return rows(self.base_dir / args["path"], fields=args.get("fields"))
            raise ValueError("rows takes a file name, or {path: F, fields: [...]}")
        if kind == "combine":
            if not isinstance(args, dict) or not isinstance(args.get("fields"), dict):
                raise ValueError(
                    "combine takes {fields: {name: sampler, ...}, where: [expression, ...]}"
                )
            fields = {
                name: self._sampler(name, sub, (*at, "fields", name))
                if isinstance(sub, dict)
                else self._not_a_sampler((*at, "fields", name))
                for name, sub in args["fields"].items()
            }
            where = args.get("where") or []
            if not isinstance(where, list) or not all(isinstance(w, str) for w in where):
                raise ValueError("combine: where takes a list of expressions")
            return combine(
                fields,
                where=[Constraint(w) for w in where],
                max_tries=int(args.get("max_tries", 1000)),
            )
        raise KeyError(kind)

    def _not_a_sampler(self, at: KeyPath) -> Callable[..., Any]:
        raise self.source.error(at, "each combined field is a sampler, e.g. {choice: [a, b]}")

    def _seeds(self, seeds: Any) -> tuple[dict[str, Any], ...]:
        if seeds is None:
            return ()
        if isinstance(seeds, str):
            return self._seed_file(seeds)
        if not isinstance(seeds, list):
            raise self.source.error(
                ("seeds",),
                "seeds must be a list of mappings or the path of a .jsonl file, "
                f"got {_kind(seeds)}",
            )
        for index, seed in enumerate(seeds):
            if not isinstance(seed, dict) or not all(isinstance(k, str) for k in seed):
                raise self.source.error(
                    ("seeds", index),
                    f"each seed must be a mapping of field names to values, got {_kind(seed)}",
                )
        return tuple(seeds)

    def _seed_file(self, name: str) -> tuple[dict[str, Any], ...]:
        at: KeyPath = ("seeds",)
        target = self.base_dir / name
        try:
            raw = target.read_bytes()
        except FileNotFoundError:
            raise self.source.error(
                at,
                f"seeds file {str(target)!r} not found (a seeds path is relative to the "
                "recipe file)",
            ) from None
        except OSError as err:
            raise self.source.error(
                at, f"cannot read seeds file {str(target)!r}: {err.strerror}"
            ) from None
        named_by = f"the seeds file of {self.source.file}, line {self.source.line_of(at)}"
        records: list[dict[str, Any]] = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            problem = None
            try:
                record = json.loads(line.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError:
                problem = "the line is not UTF-8 text"
            except json.JSONDecodeError as err:
                problem = f"not valid JSON: {err.msg} (column {err.colno})"
            else:
                if not isinstance(record, dict):
                    problem = f"expected a JSON object, got {_kind(record)}"
            if problem is not None:
                raise RecipeError(
                    f"{target}, line {number}: {problem}; in {named_by}",
                    file=str(target),
                    line=number,
                )
            records.append(record)
        if not records:
            raise self.source.error(at, f"seeds file {str(target)!r} has no records")
        return tuple(records)

    # -- steps

    def _step(self, index: int, spec: _StepSpec) -> Step:
        at: KeyPath = ("steps", index)
        if spec.model is not None:
            return self._model_step(at, spec, spec.model)
        if spec.python is not None:
            return PythonStep(spec.name, self._resolve((*at, "python"), spec.python))
        if spec.judge is not None:
            return self._judge_step(at, spec, spec.judge)
        if spec.sandbox is not None:
            try:
                compile_template(spec.sandbox.code)
            except ValueError as err:
                raise self.source.error((*at, "sandbox", "code"), f"Jinja {err}") from None
            return SandboxStep(
                spec.name, spec.sandbox.code, spec.sandbox.timeout_s, spec.tier or "sandbox"
            )
        if spec.dedup is not None:
            d = spec.dedup
            return DedupStep(
                spec.name,
                d.field,
                d.method,
                d.threshold,
                num_perm=d.num_perm,
                shingle=d.shingle,
                embedder=d.embedder,
                patience=d.patience,
                tier=spec.tier or "dedup",
            )
        return self._verify_step(at, spec, spec.verify or {})

    def _judge_step(self, at: KeyPath, spec: _StepSpec, judge: _JudgeSpec) -> JudgeStep:
        at = (*at, "judge")
        self._check_params((*at, "params"), judge.params)
        for label, text in (("rubric", judge.rubric), ("system", judge.system)):
            if text is not None:
                try:
                    compile_template(text)
                except ValueError as err:
                    raise self.source.error((*at, label), f"Jinja {err}") from None
        extra: dict[str, Any] = {}
        if judge.system is not None:
            extra["system"] = judge.system
        if judge.params:
            extra["params"] = dict(judge.params)
        return JudgeStep(
            name=spec.name,
            rubric=judge.rubric,
            role=judge.role,
            threshold=judge.threshold,
            uncertain_margin=judge.uncertain_margin,
            max_attempts=judge.max_attempts,
            tier=spec.tier or "judge",
            **extra,
        )

    def _check_params(self, at: KeyPath, params: Mapping[str, Any]) -> None:
        for key in params:
            if key not in SAMPLING_PARAMS:
                raise self.source.error(
                    (*at, key),
                    f"unknown sampling parameter {key!r}{_did_you_mean(key, SAMPLING_PARAMS)}; "
                    f"known: {', '.join(sorted(SAMPLING_PARAMS))}",
                )

    def _model_step(self, at: KeyPath, spec: _StepSpec, model: _ModelSpec) -> ModelStep:
        at = (*at, "model")
        self._check_params((*at, "params"), model.params)
        for label, text in (("prompt", model.prompt), ("system", model.system)):
            if text is not None:
                try:
                    compile_template(text)
                except ValueError as err:
                    raise self.source.error((*at, label), f"Jinja {err}") from None
        if model.json_schema is not None:
            import jsonschema

            try:
                jsonschema.Draft202012Validator.check_schema(model.json_schema)
            except jsonschema.SchemaError as err:
                raise self.source.error(
                    (*at, "schema", *err.path), f"invalid JSON schema: {err.message}"
                ) from None
        parse = None
        if model.parse is not None:
            if model.json_schema is not None:
                raise self.source.error(
                    (*at, "parse"), "give a schema or a parse function, not both"
                )
            parse = self._resolve((*at, "parse"), model.parse)
        return ModelStep(
            name=spec.name,
            prompt=model.prompt,
            role=model.role,
            system=model.system,
            schema=model.json_schema,
            output=spec.output,
            params=dict(model.params),
            max_attempts=model.max_attempts,
            parse=parse,
        )

    def _verify_step(self, at: KeyPath, spec: _StepSpec, verify: Mapping[Any, Any]) -> VerifyStep:
        at = (*at, "verify")
        tier = spec.tier or "cheap"
        if "python" in verify:
            others = [key for key in verify if key != "python"]
            if others:
                raise self.source.error(
                    (*at, others[0]), "a {python: module:function} verifier takes no other options"
                )
            return VerifyStep(spec.name, self._resolve((*at, "python"), verify["python"]), tier)
        if "check" not in verify:
            raise self.source.error(
                at,
                "a verifier needs 'check' (one of: "
                f"{', '.join(sorted(CHECKS))}) or 'python: module:function'",
            )
        name = verify["check"]
        if not isinstance(name, str):
            raise self.source.error(
                (*at, "check"), f"expected the name of a check, got {_kind(name)}"
            )
        options = {key: value for key, value in verify.items() if key != "check"}
        try:
            fn = build_check(name, options)
        except RecipeError as err:
            option = err.fields.get("option")
            where = (*at, option) if isinstance(option, str) else at
            message = err.message
            if option == "check":
                message += _did_you_mean(name, CHECKS)
            raise self.source.error(where, message) from None
        return VerifyStep(spec.name, fn, tier)

    def _resolve(self, at: KeyPath, ref: object) -> Callable[..., Any]:
        """Import a ``module:function`` reference (the attribute may be dotted)."""
        if not isinstance(ref, str):
            raise self.source.error(at, f"expected a 'module:function' string, got {_kind(ref)}")
        module_name, sep, attr = ref.partition(":")
        if not sep or not _DOTTED.fullmatch(module_name) or not _DOTTED.fullmatch(attr):
            raise self.source.error(
                at, f"{ref!r} is not a 'module:function' reference such as 'mypackage.steps:tidy'"
            )
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            raise self.source.error(
                at,
                f"cannot import module {module_name!r} for {ref!r}: {err} (is it installed "
                "or on PYTHONPATH?)",
            ) from None
        except Exception as err:
            # Importing runs the user's module; whatever it raises is reported, not shown
            # as a traceback.
            raise self.source.error(
                at,
                f"importing module {module_name!r} for {ref!r} raised "
                f"{type(err).__name__}: {_one_line(str(err))}",
            ) from None
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise self.source.error(
                    at, f"module {module_name!r} has no attribute {attr!r}"
                ) from None
        if not callable(obj):
            raise self.source.error(
                at, f"{ref!r} is a {type(obj).__name__}, not a function or other callable"
            )
        resolved: Callable[..., Any] = obj
        return resolved


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _pair(args: object, kind: str, *, int_only: bool) -> tuple[float, float]:
    check = (lambda v: isinstance(v, int) and not isinstance(v, bool)) if int_only else _is_number
    if not isinstance(args, list) or len(args) != 2 or not all(check(v) for v in args):
        what = "whole numbers" if int_only else "numbers"
        raise ValueError(f"{kind} takes a list of two {what} [low, high], got {_kind(args)}")
    return args[0], args[1]


__all__ = ["load_yaml_recipe"]
