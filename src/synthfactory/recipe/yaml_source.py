"""Reading a YAML recipe file and locating its problems.

:class:`Source` knows the line of every key path in the file, so that any problem becomes a
``RecipeError`` naming the file, the line and the field. Here too: reading and parsing the
file, and saying pydantic's shape errors in the recipe's terms.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from synthfactory.errors import RecipeError
from synthfactory.recipe.yaml_specs import RecipeSpec

KeyPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
#: How many further problems a shape error lists after the first one.
_MORE_PROBLEMS = 4


class Source:
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


def read_text(path: Path, file: str) -> str:
    """The recipe file's text (UTF-8, an optional BOM dropped); ``file`` names it."""
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


def parse_yaml(text: str, file: str) -> tuple[yaml.Node | None, Any]:
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
            f"{file}, line {line}: {what}: {one_line(problem)}{context}", file=file, line=line
        ) from None
    except yaml.YAMLError as err:
        raise RecipeError(f"{file}: YAML error: {one_line(str(err))}", file=file) from None
    except RecursionError:
        # PyYAML parses nested collections recursively.
        line = loader.line + 1
        raise RecipeError(
            f"{file}, line {line}: the YAML is nested too deeply to read", file=file, line=line
        ) from None
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


def line_map(root: yaml.Node | None, file: str) -> dict[KeyPath, int]:
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


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, newlines included, as one space."""
    return " ".join(text.split())


def kind_of(value: object) -> str:
    """What ``value`` is, for a message: null, a mapping, a list, or its type and repr."""
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


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean '...'?)`` for the closest of ``known``, or nothing."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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


def shape_error(err: ValidationError, source: Source) -> RecipeError:
    """One RecipeError for all of pydantic's ``err``: the first problem, then a few more."""
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
        listed = f"; allowed fields: {', '.join(allowed)}" if allowed else ""
        return f"unknown field {key!r}{did_you_mean(key, allowed)}{listed}"
    if kind in ("step_kind", "step_option"):
        return error["msg"]
    if loc and loc[-1] == "[key]":
        return f"keys must be strings, got {kind_of(error['input'])}"
    expected = _EXPECTED.get(kind)
    if expected is None:
        msg = error["msg"]
        expected = msg[:1].lower() + msg[1:]
    return f"{expected}, got {kind_of(error['input'])}"


def _allowed_fields(loc: Iterable[Any]) -> list[str]:
    """The field names the spec model at ``loc`` accepts (by their YAML spelling)."""
    tp: Any = RecipeSpec
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


__all__ = [
    "KeyPath",
    "Source",
    "did_you_mean",
    "kind_of",
    "line_map",
    "one_line",
    "parse_yaml",
    "read_text",
    "shape_error",
]
