"""Parsers from a model's free-text answer to the value a step stores (``ModelStep.parse``).

Why not always JSON: asked for code inside a JSON string, the embedded 0.5B model often
closes the string after the signature. Constrained decoding forbids a raw newline inside a
JSON string and the model rarely chooses the escaped ``\\n`` there, so the "solution" is
``"def f(x):"`` (4 of 17 answers in one main-job run). Asked for a fenced code block, the
same model wrote 12 of 12 answers that parse (``bench/README.md``). Format restrictions are
known to cost small models quality (Tam et al., 2024, "Let Me Speak Freely?"); code harnesses
(HumanEval, EvalPlus) extract fenced code for the same reason.

A parser raises ``ValueError`` with a reason when the answer holds no usable value; the
attempt is then recorded as invalid and retried with a new seed, like an answer that does
not match a schema.
"""

from __future__ import annotations

import ast
import re
from typing import Any

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:\n?```|\Z)", re.S | re.I)
_SOLUTION_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def python_code(text: str) -> dict[str, Any]:
    """Split the Python in an answer into ``solution``, ``tests`` and ``function_name``.

    The code is the answer's fenced blocks in order (a last block the ``stop`` sequence cut
    before its closing fence counts), or the whole answer when it has no fence.

    - ``solution``: the top-level imports, definitions and constants bound to literals, in
      their source order and form;
    - ``tests``: the top-level ``assert`` statements (and those under
      ``if __name__ == "__main__":``), one per entry;
    - ``function_name``: the first defined function a test calls, else the first defined.

    Prints, example calls and comments outside the definitions are dropped. Raises
    ``ValueError`` when there is no code, it does not parse, or it defines no function.
    """
    blocks = _FENCE.findall(text)
    source = "\n".join(block.rstrip() for block in blocks) if blocks else text
    if not source.strip():
        raise ValueError("the answer holds no code")
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        where = f" (line {err.lineno})" if err.lineno else ""
        raise ValueError(f"the code does not parse: {err.msg}{where}") from None
    lines = source.splitlines()
    solution: list[str] = []
    tests: list[str] = []
    for node in tree.body:
        if isinstance(node, _SOLUTION_NODES) or _is_constant(node):
            solution.append(_segment(lines, node))
        elif isinstance(node, ast.Assert):
            tests.append(_segment(lines, node))
        elif _is_main_guard(node):
            assert isinstance(node, ast.If)
            tests.extend(ast.unparse(n) for n in node.body if isinstance(n, ast.Assert))
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not functions:
        raise ValueError("the code defines no function")
    called = {
        n.func.id
        for test in tests
        for n in ast.walk(ast.parse(test))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    name = next((f for f in functions if f in called), functions[0])
    return {"function_name": name, "solution": "\n\n".join(solution) + "\n", "tests": tests}


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The node's own source lines (decorators included), as written."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    end = node.end_lineno or node.lineno
    return "\n".join(lines[start - 1 : end])


def _is_constant(node: ast.stmt) -> bool:
    """A module-level name bound to a literal (``VOWELS = "aeiou"``): part of the solution.
    Other assignments (``result = f(3)`` before an assert) are test scaffolding, dropped."""
    if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
        return False
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    names = {p.id for p in parts if isinstance(p, ast.Name)}
    values = {p.value for p in parts if isinstance(p, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


__all__ = ["python_code"]
