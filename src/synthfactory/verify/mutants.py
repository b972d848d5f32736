"""Mutators that make known-bad canaries from accepted code (mutation testing for verifiers).

:class:`MutateCode` applies one small syntactic change to a Python solution: a swapped
comparison (``<`` for ``<=``), a changed arithmetic operator, an integer constant off by
one, ``and`` for ``or``, or a ``return`` of the first argument. :class:`SwapAnswer` gives
an item the solution another accepted item wrote for a different task, renamed to this
item's function. A tier that passes these cannot tell right code from wrong.

The code is only parsed and unparsed here (``ast``), never run.
"""

from __future__ import annotations

import ast
import copy
import random
from dataclasses import dataclass
from typing import Any

from synthfactory.recipe.steps import Payload

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.FloorDiv: ast.Mod,
    ast.Mod: ast.FloorDiv,
    ast.Div: ast.Mult,
}


def get_path(payload: Any, dotted: str) -> Any:
    """``payload["a"]["b"]`` for ``"a.b"``; ``None`` if any part is missing."""
    value = payload
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def with_path(payload: Payload, dotted: str, value: Any) -> Payload:
    """A deep copy of ``payload`` with ``dotted`` set to ``value``."""
    out = copy.deepcopy(payload)
    target = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return out


def mutate_source(source: str, rng: random.Random) -> str | None:
    """One random small mutation of Python ``source``; ``None`` if none applies or it does
    not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    sites: list[tuple[str, ast.AST, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sites.extend(
                ("compare", node, i) for i, op in enumerate(node.ops) if type(op) in _COMPARE_SWAPS
            )
        elif isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _BINOP_SWAPS:
            sites.append(("binop", node, 0))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int)
            and not isinstance(node.value, bool)
        ):
            sites.append(("constant", node, 0))
        elif isinstance(node, ast.BoolOp):
            sites.append(("boolop", node, 0))
        elif isinstance(node, ast.FunctionDef) and node.args.args:
            returns = [n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value]
            sites.extend(("return", r, 0) for r in returns if _returns_other(r, node))
    rng.shuffle(sites)
    for kind, node, index in sites:
        mutated = copy.deepcopy(tree)
        target = _same_node(mutated, tree, node)
        _apply(kind, target, index, mutated, node)
        text = ast.unparse(mutated)
        if text != ast.unparse(tree):
            return text + "\n"
    return None


def _returns_other(ret: ast.Return, fn: ast.FunctionDef) -> bool:
    first = fn.args.args[0].arg
    return not (isinstance(ret.value, ast.Name) and ret.value.id == first)


def _same_node(copied: ast.AST, original: ast.AST, node: ast.AST) -> ast.AST:
    for a, b in zip(ast.walk(copied), ast.walk(original), strict=True):
        if b is node:
            return a
    raise LookupError("node not found")  # pragma: no cover - walk orders match


def _apply(kind: str, node: Any, index: int, tree: ast.AST, original: ast.AST) -> None:
    if kind == "compare":
        node.ops[index] = _COMPARE_SWAPS[type(node.ops[index])]()
    elif kind == "binop":
        node.op = _BINOP_SWAPS[type(node.op)]()
    elif kind == "constant":
        node.value = node.value + 1
    elif kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "return":
        fn = next(
            f
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef) and any(n is node for n in ast.walk(f))
        )
        node.value = ast.Name(id=fn.args.args[0].arg, ctx=ast.Load())


@dataclass(frozen=True)
class MutateCode:
    """A :data:`~synthfactory.verify.canaries.Mutator`: one small change to the Python
    source at ``field`` of an accepted item."""

    field: str = "code.solution"

    def __call__(self, payload: Payload, donor: Payload, rng: random.Random) -> Payload | None:
        source = get_path(payload, self.field)
        if not isinstance(source, str):
            return None
        mutated = mutate_source(source, rng)
        return None if mutated is None else with_path(payload, self.field, mutated)


@dataclass(frozen=True)
class SwapAnswer:
    """A :data:`~synthfactory.verify.canaries.Mutator`: the donor's code at ``field`` (an
    answer to another task), its function renamed to this item's (read at ``name``), for
    an item whose ``task`` differs."""

    field: str = "code.solution"
    name: str = "code.function_name"
    task: str = "task"

    def __call__(self, payload: Payload, donor: Payload, rng: random.Random) -> Payload | None:
        mine, theirs = get_path(payload, self.name), get_path(donor, self.name)
        source = get_path(donor, self.field)
        if get_path(payload, self.task) == get_path(donor, self.task):
            return None
        if not (isinstance(mine, str) and isinstance(theirs, str) and isinstance(source, str)):
            return None
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return None
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == theirs:
                node.name = mine
            elif isinstance(node, ast.Name) and node.id == theirs:
                node.id = mine
        return with_path(payload, self.field, ast.unparse(tree) + "\n")


@dataclass(frozen=True)
class DropWhere:
    """A :data:`~synthfactory.verify.canaries.Mutator` for SQL: the query at ``field`` with
    its WHERE clause removed (or, with none, its first join condition kept and a LIMIT 1
    added); parsed and printed with sqlglot (the ``validators`` extra)."""

    field: str = "answer.sql"
    dialect: str = "sqlite"

    def __call__(self, payload: Payload, donor: Payload, rng: random.Random) -> Payload | None:
        try:
            import sqlglot
            from sqlglot import expressions as exp
        except ImportError:  # pragma: no cover - the validators extra is missing
            from synthfactory.errors import MissingDependencyError

            raise MissingDependencyError(
                "DropWhere needs sqlglot: pip install 'synthfactory[validators]'"
            ) from None
        sql = get_path(payload, self.field)
        if not isinstance(sql, str):
            return None
        try:
            tree = sqlglot.parse_one(sql, read=self.dialect)
        except sqlglot.errors.ParseError:
            return None
        where = tree.find(exp.Where)
        if where is not None:
            where.pop()
        elif tree.args.get("limit") is None and isinstance(tree, exp.Select):
            tree = tree.limit(1)
        else:
            return None
        mutated = tree.sql(dialect=self.dialect)
        return None if mutated == sql else with_path(payload, self.field, mutated)


@dataclass(frozen=True)
class ChangeNumber:
    """A :data:`~synthfactory.verify.canaries.Mutator` for answers in text (math): one
    number in the string at ``field`` changed by one."""

    field: str = "answer.final"

    def __call__(self, payload: Payload, donor: Payload, rng: random.Random) -> Payload | None:
        import re

        text = get_path(payload, self.field)
        if isinstance(text, int | float) and not isinstance(text, bool):
            return with_path(payload, self.field, text + 1)
        if not isinstance(text, str):
            return None
        numbers = list(re.finditer(r"-?\d+", text))
        if not numbers:
            return None
        pick = rng.choice(numbers)
        changed = text[: pick.start()] + str(int(pick.group()) + 1) + text[pick.end() :]
        return with_path(payload, self.field, changed)


__all__ = [
    "ChangeNumber",
    "DropWhere",
    "MutateCode",
    "SwapAnswer",
    "get_path",
    "mutate_source",
    "with_path",
]
