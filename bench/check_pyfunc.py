"""The labelled-set checker of the ``pyfunc`` recipe: is a stored example actually right?

For every stored row whose task is in the bank (``src/synthfactory/examples/pyfunc_tasks.jsonl``)
two questions are asked, both against the trusted reference of ``bench/labels`` that no
verifier of a run may read:

* **solution**: called on the task's hidden probe inputs, does the model's solution return
  what the reference returns? (``==``, except floats, compared with ``math.isclose``, rel and
  abs 1e-9; a list is not a tuple.) Raising, or not finishing, where the reference answers
  is wrong too.
* **tests**: run against the reference (under the solution's function name), do the model's
  own tests pass? A test that fails its assertion asserts something wrong. A test whose call
  makes the reference raise (an input outside the task's stated domain, a wrong arity) is
  not judged: the task does not say what it should give.

A row is a **defect** when either answer is no. Rows whose task is not in the bank are
unlabelled ("no reference"), as are rows the sandbox could not run (``infra_error``).

Generated code is untrusted: it runs only in the sandbox, one job per row for the probes
and one for the tests, the jobs of up to ``BATCH_ROWS`` rows in one ``Sandbox.run`` call.
The reference's answers are computed here, in this process (it is trusted code).

    python bench/check_pyfunc.py --workspace WS [--run RUN_ID ...] [--json OUT]
                                 [--workers N] [--uid-base UID]
"""

from __future__ import annotations

import argparse
import ast
import copy
import inspect
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from synthfactory.sandbox import SandboxJob, SandboxResult
from synthfactory.sandbox.protocol import Sandbox

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run as a script, only bench/ is on the path
    sys.path.insert(0, str(_ROOT))

from bench.labels.pyfunc_reference import PROBES, REFERENCES  # noqa: E402  (needs the path above)

BANK_PATH = _ROOT / "src" / "synthfactory" / "examples" / "pyfunc_tasks.jsonl"
#: CPU seconds per job: a few dozen calls of a small function, with room for slow solutions.
TIMEOUT_S = 5.0
#: Marks the harness's own output lines among whatever the generated code prints.
MARK = "@@sf-check@@"
#: Rows whose jobs go to the sandbox in one ``run`` call.
BATCH_ROWS = 100
#: Slot uids of the checker's own pool: not those of a run's pool (1_900_000 on), which
#: may be working on the same host at the same time.
UID_BASE = 1_900_300


@dataclass(frozen=True)
class RowCheck:
    """The verdict on one stored row.

    ``solution_ok`` and ``tests_ok`` are None when they could not be decided (no reference
    for the task, the sandbox could not run the job, the tests job gave no answer); ``ok``
    is True only when both are True. ``reason`` says what was wrong (and which tests were
    not judged), or why the row is unlabelled.
    """

    item_id: str
    task_id: str | None
    ok: bool
    solution_ok: bool | None
    tests_ok: bool | None
    reason: str

    @property
    def labelled(self) -> bool:
        """Whether the row was judged: found wrong in a part, or right in both."""
        return self.defect or (self.solution_ok is True and self.tests_ok is True)

    @property
    def defect(self) -> bool:
        """Whether the solution or the tests were found wrong."""
        return self.solution_ok is False or self.tests_ok is False


def load_bank(path: Path = BANK_PATH) -> list[dict[str, Any]]:
    """The task bank, one dict per task, in file order."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def values_match(expected: object, got: object) -> bool:
    """``expected == got``, except that numbers where either is a float are compared with
    ``math.isclose`` (rel and abs 1e-9), also inside lists, tuples and dict values.

    Self-contained (its import is inside) because its source also runs in the sandbox.
    """
    import math

    if isinstance(expected, float) or isinstance(got, float):
        numbers = (int, float)
        if isinstance(expected, numbers) and isinstance(got, numbers):
            return math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-9)
        return bool(expected == got)
    if (isinstance(expected, list) and isinstance(got, list)) or (
        isinstance(expected, tuple) and isinstance(got, tuple)
    ):
        if len(expected) != len(got):
            return False
        return all(values_match(e, g) for e, g in zip(expected, got, strict=True))
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(
            values_match(expected[k], got[k]) for k in expected
        )
    try:
        return bool(expected == got)
    except Exception:
        return False


# The probe job: the solution is exec'd (its prints swallowed) and called on every probe;
# each answer is written as one JSON line, flushed, so a probe that hangs still leaves the
# answers before it. Values are encoded with their types (a tuple is not a list).
_PROBE_HARNESS = r"""
import copy, json, sys
_OUT = sys.stdout
SOLUTION = {solution}
NAME = {name}
ARGS = {args}
MARK = {mark}


class _Sink:
    def write(self, text):
        return len(text)

    def flush(self):
        pass


def _enc(value, depth=0):
    if depth > 40:
        return {{"other": "too deep", "repr": ""}}
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value) is int:
        return value
    if type(value) is float:
        return {{"float": repr(value)}}
    if isinstance(value, list):
        return [_enc(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {{"tuple": [_enc(v, depth + 1) for v in value]}}
    if isinstance(value, dict):
        return {{"dict": [[_enc(k, depth + 1), _enc(v, depth + 1)] for k, v in value.items()]}}
    if isinstance(value, (set, frozenset)):
        return {{"set": [_enc(v, depth + 1) for v in value]}}
    try:
        text = repr(value)[:200]
    except Exception:
        text = "?"
    return {{"other": type(value).__name__, "repr": text}}


def _emit(record):
    _OUT.write(MARK + json.dumps(record) + "\n")
    _OUT.flush()


namespace = {{"__name__": "solution"}}
try:
    sys.stdout = _Sink()
    exec(compile(SOLUTION, "<solution>", "exec"), namespace)
    function = namespace[NAME]
except BaseException as err:
    sys.stdout = _OUT
    _emit({{"setup": f"{{type(err).__name__}}: {{str(err)[:200]}}"}})
    raise SystemExit(0)
for index, args in enumerate(ARGS):
    try:
        sys.stdout = _Sink()
        value = function(*copy.deepcopy(args))
        sys.stdout = _OUT
        _emit({{"i": index, "value": _enc(value)}})
    except BaseException as err:
        sys.stdout = _OUT
        _emit({{"i": index, "raised": f"{{type(err).__name__}}: {{str(err)[:200]}}"}})
"""

# The tests job: the reference (trusted) under the solution's name, then each of the
# model's tests on its own, with ``a == b`` rewritten to ``_values_match(b, a)``.
_TESTS_HARNESS = r"""from __future__ import annotations
import json as _json, sys as _sys
_OUT = _sys.stdout
_MARK = {mark}
# The reference and the matcher get namespaces of their own: a test's function may be
# named like a builtin the reference uses (``sum``, ``max``).
_REFERENCE_NS = {{"__name__": "reference"}}
exec(compile({reference}, "<reference>", "exec"), _REFERENCE_NS)
_reference = _REFERENCE_NS[{reference_name}]
_MATCH_NS = {{"__name__": "matcher"}}
exec(compile({matcher}, "<matcher>", "exec"), _MATCH_NS)
_values_match = _MATCH_NS["values_match"]


{wrapper}

for _index, _source in enumerate({tests}):
    try:
        exec(compile(_source, "<test>", "exec"), dict(globals()))
        _status, _detail = "pass", ""
    except AssertionError as err:
        _status, _detail = "assert", str(err)[:200]
    except BaseException as err:
        _status, _detail = "error", f"{{type(err).__name__}}: {{str(err)[:200]}}"
    _sys.stdout = _OUT
    _OUT.write(_MARK + _json.dumps({{"i": _index, "status": _status, "detail": _detail}}) + "\n")
    _OUT.flush()
"""


class _Opaque:
    """A value the harness could not encode: equal to nothing."""

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self.kind} {self.text}>"


def decode_value(data: Any) -> Any:
    """Inverse of the harness's ``_enc``: JSON back to Python values with their types."""
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "float" in data:
        return float(data["float"])
    if "tuple" in data:
        return tuple(decode_value(v) for v in data["tuple"])
    try:
        if "dict" in data:
            return {decode_value(k): decode_value(v) for k, v in data["dict"]}
        if "set" in data:
            return {decode_value(v) for v in data["set"]}
    except TypeError:  # an unhashable key or element: cannot equal a reference answer
        return _Opaque("unhashable", repr(data)[:200])
    return _Opaque(str(data.get("other", "?")), str(data.get("repr", "")))


def _marked_lines(stdout: str) -> list[dict[str, Any]]:
    records = []
    for line in stdout.splitlines():
        if line.startswith(MARK):
            try:
                records.append(json.loads(line[len(MARK) :]))
            except json.JSONDecodeError:
                continue
    return records


@dataclass(frozen=True)
class _Row:
    """A row ready to check: its bank task and its code."""

    item_id: str
    task: dict[str, Any]
    name: str
    solution: str
    tests: list[str]


def _as_dict(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def resolve_task(
    task: Any, by_id: Mapping[str, dict[str, Any]], by_text: Mapping[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """The bank task a payload's ``task`` names: a description string (the old shape), or
    a bank record (the new shape, possibly stored as JSON text); None if not in the bank."""
    if isinstance(task, str) and task in by_text:
        return by_text[task]
    task = _as_dict(task)
    if isinstance(task, dict):
        found = by_id.get(str(task.get("id")))
        if found is not None:
            return found
        return by_text.get(str(task.get("task")))
    return None


def _wrapper(name: str, reference: Callable[..., Any], solution: str) -> str:
    """``def <name>(...)`` calling the reference, with the solution's parameter names where
    they fit (so a test calling with keywords still reaches the reference)."""
    arity = len(inspect.signature(reference).parameters)
    call = "_reference"
    fallback = f"def {name}(*args, **kwargs):\n    return {call}(*args, **kwargs)\n"
    try:
        tree = ast.parse(solution)
    except (SyntaxError, ValueError):
        return fallback
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if not defs:
        return fallback
    args = defs[-1].args
    params = [a.arg for a in args.args]
    if args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg or len(params) < arity:
        return fallback
    # Parameters past the reference's arity must have defaults; they are not passed on, so
    # their values do not matter (and the solution's may name things only it defines).
    if len(params) - len(args.defaults) > arity:
        return fallback
    parts = params[:arity] + [f"{param}=None" for param in params[arity:]]
    passed = ", ".join(params[:arity])
    return f"def {name}({', '.join(parts)}):\n    return {call}({passed})\n"


class _EqToMatch(ast.NodeTransformer):
    """``assert a == b`` -> ``assert _values_match(b, a)`` (floats compared with tolerance)."""

    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            call = ast.Call(
                func=ast.Name("_values_match", ast.Load()),
                args=[test.comparators[0], test.left],
                keywords=[],
            )
            node.test = call
        return node


def _tolerant(test: str) -> str:
    try:
        tree = ast.parse(test)
    except (SyntaxError, ValueError):
        return test  # fails in the sandbox too, and is reported as not judged
    tree = ast.fix_missing_locations(_EqToMatch().visit(tree))
    return ast.unparse(tree)


def _probe_job(job_id: str, row: _Row) -> SandboxJob:
    code = _PROBE_HARNESS.format(
        solution=repr(row.solution),
        name=repr(row.name),
        args=repr(PROBES[row.task["id"]]),
        mark=repr(MARK),
    )
    return SandboxJob(job_id, code, TIMEOUT_S)


def _tests_job(job_id: str, row: _Row) -> SandboxJob:
    reference = REFERENCES[row.task["id"]]
    code = _TESTS_HARNESS.format(
        reference=repr("from __future__ import annotations\n" + inspect.getsource(reference)),
        reference_name=repr(reference.__name__),
        matcher=repr(inspect.getsource(values_match)),
        wrapper=_wrapper(row.name, reference, row.solution),
        tests=repr([_tolerant(t) for t in row.tests]),
        mark=repr(MARK),
    )
    return SandboxJob(job_id, code, TIMEOUT_S)


def _reference_answers(task_id: str) -> list[Any]:
    reference = REFERENCES[task_id]
    return [reference(*copy.deepcopy(args)) for args in PROBES[task_id]]


def _short(value: Any, width: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _judge_solution(
    task_id: str, result: SandboxResult, expected: Sequence[Any]
) -> tuple[bool, list[str]]:
    probes = PROBES[task_id]
    records = _marked_lines(result.stdout)
    for record in records:
        if "setup" in record:
            return False, [f"the solution does not load: {record['setup']}"]
    answers = {int(r["i"]): r for r in records if "i" in r}
    problems = []
    for i, (args, want) in enumerate(zip(probes, expected, strict=True)):
        call = f"{_short(args, 60)}"
        record = answers.get(i)
        if record is None:
            problems.append(
                f"probe {call}: no answer (sandbox: {result.verdict}, {result.reason or 'exit'}"
                f" {result.exit_code})"
            )
            break  # the job stopped here; later probes never ran
        if "raised" in record:
            problems.append(f"probe {call}: raised {record['raised']}, expected {_short(want)}")
            continue
        got = decode_value(record["value"])
        if not values_match(want, got):
            problems.append(f"probe {call}: got {_short(got)}, expected {_short(want)}")
    return not problems, problems


def _judge_tests(result: SandboxResult, tests: Sequence[str]) -> tuple[bool | None, list[str]]:
    records = {int(r["i"]): r for r in _marked_lines(result.stdout) if "i" in r}
    if not records:  # the harness itself did not get going: nothing was judged
        return None, [f"the tests job gave no answer ({result.verdict}: {result.reason})"]
    wrong, unjudged = [], []
    for i, test in enumerate(tests):
        record = records.get(i)
        if record is None:
            unjudged.append(f"test did not run ({result.verdict}): {_short(test)}")
        elif record["status"] == "assert":
            wrong.append(f"test fails on the reference: {_short(test)}")
        elif record["status"] == "error":
            unjudged.append(f"not judged ({record['detail']}): {_short(test)}")
    return not wrong, wrong + unjudged


def check_payloads(
    payloads: Sequence[Mapping[str, Any]],
    sandbox: Sandbox,
    bank: Sequence[dict[str, Any]] | None = None,
) -> list[RowCheck]:
    """Check stored rows (dicts with ``task`` and ``code``, and ``item_id`` if stored);
    all their jobs go to ``sandbox`` in batches. Results in the order of ``payloads``."""
    tasks = list(bank) if bank is not None else load_bank()
    by_id = {t["id"]: t for t in tasks}
    by_text = {t["task"]: t for t in tasks}
    checks: list[RowCheck | None] = [None] * len(payloads)
    rows: list[tuple[int, _Row]] = []
    for index, payload in enumerate(payloads):
        item_id = str(payload.get("item_id", index))
        task = resolve_task(payload.get("task"), by_id, by_text)
        if task is None or task["id"] not in REFERENCES:
            checks[index] = RowCheck(item_id, None, False, None, None, "no reference")
            continue
        code = _as_dict(payload.get("code"))
        if not isinstance(code, dict) or not isinstance(code.get("solution"), str):
            checks[index] = RowCheck(item_id, task["id"], False, None, None, "no code")
            continue
        name = str(code.get("function_name") or task["function"])
        tests = [str(t) for t in code.get("tests") or []]
        rows.append((index, _Row(item_id, task, name, code["solution"], tests)))
    expected = {tid: _reference_answers(tid) for tid in {r.task["id"] for _, r in rows}}
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start : start + BATCH_ROWS]
        for (index, _), check in zip(batch, _check_batch(batch, sandbox, expected), strict=True):
            checks[index] = check
    return [c for c in checks if c is not None]


def _run_retrying(sandbox: Sandbox, jobs: list[SandboxJob]) -> dict[str, SandboxResult]:
    """Run ``jobs``; those the sandbox could not run are tried once more."""
    results = {r.id: r for r in sandbox.run(jobs)}
    again = [j for j in jobs if results[j.id].verdict == "infra_error"]
    if again:
        results.update({r.id: r for r in sandbox.run(again)})
    return results


def _check_batch(
    batch: Sequence[tuple[int, _Row]], sandbox: Sandbox, expected: Mapping[str, list[Any]]
) -> list[RowCheck]:
    jobs = []
    for index, row in batch:
        jobs.append(_probe_job(f"probe-{index}", row))
        if row.tests:
            jobs.append(_tests_job(f"tests-{index}", row))
    results = _run_retrying(sandbox, jobs)
    checks = []
    for index, row in batch:
        task_id = row.task["id"]
        probe = results[f"probe-{index}"]
        tests = results.get(f"tests-{index}")
        if probe.verdict == "infra_error" or (tests is not None and tests.verdict == "infra_error"):
            why = probe.reason if probe.verdict == "infra_error" else getattr(tests, "reason", "")
            checks.append(RowCheck(row.item_id, task_id, False, None, None, f"sandbox: {why}"))
            continue
        solution_ok, solution_notes = _judge_solution(task_id, probe, expected[task_id])
        tests_ok, test_notes = _judge_tests(tests, row.tests) if tests else (True, [])
        notes = solution_notes + test_notes
        checks.append(
            RowCheck(
                row.item_id,
                task_id,
                solution_ok and tests_ok is True,
                solution_ok,
                tests_ok,
                "; ".join(notes) if notes else "ok",
            )
        )
    return checks


def check_payload(
    payload: Mapping[str, Any], sandbox: Sandbox, bank: Sequence[dict[str, Any]] | None = None
) -> RowCheck:
    """Check one stored row; see :func:`check_payloads`."""
    (check,) = check_payloads([payload], sandbox, bank)
    return check


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a proportion ``successes / n``."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarize(checks: Iterable[RowCheck]) -> dict[str, Any]:
    """Counts, the defect rate with its Wilson interval, and the defects by task."""
    checks = list(checks)
    labelled = [c for c in checks if c.labelled]
    defects = [c for c in labelled if c.defect]
    low, high = wilson(len(defects), len(labelled))
    by_task: dict[str, list[dict[str, Any]]] = {}
    for c in defects:
        by_task.setdefault(str(c.task_id), []).append(
            {
                "item_id": c.item_id,
                "solution_ok": c.solution_ok,
                "tests_ok": c.tests_ok,
                "reason": c.reason,
            }
        )
    return {
        "accepted": len(checks),
        "labelled": len(labelled),
        "unlabelled": len(checks) - len(labelled),
        "no_reference": sum(1 for c in checks if c.reason == "no reference"),
        "defects": len(defects),
        "solution_wrong": sum(1 for c in labelled if c.solution_ok is False),
        "tests_wrong": sum(1 for c in labelled if c.tests_ok is False),
        "defect_rate": len(defects) / len(labelled) if labelled else None,
        "defect_rate_wilson95": [low, high],
        "labelled_by_task": dict(Counter(str(c.task_id) for c in labelled)),
        "defects_by_task": by_task,
        "rows": [asdict(c) for c in checks],
    }


def read_rows(workspace: Path, runs: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The stored rows of the workspace's ``pyfunc`` dataset, only ``runs``' if given."""
    import lance

    rows: list[dict[str, Any]] = (
        lance.dataset(str(workspace / "datasets" / "pyfunc.lance")).to_table().to_pylist()
    )
    if runs:
        rows = [r for r in rows if r.get("run_id") in set(runs)]
    return rows


def _print_report(summary: Mapping[str, Any]) -> None:
    print(f"accepted:   {summary['accepted']}")
    print(
        f"labelled:   {summary['labelled']} (unlabelled {summary['unlabelled']}, "
        f"of which no reference {summary['no_reference']})"
    )
    print(
        f"defects:    {summary['defects']} (solution wrong {summary['solution_wrong']}, "
        f"tests wrong {summary['tests_wrong']})"
    )
    if summary["defect_rate"] is None:
        print("defect rate: n/a (nothing labelled)")
    else:
        low, high = summary["defect_rate_wilson95"]
        print(f"defect rate: {summary['defect_rate']:.1%} (Wilson 95% {low:.1%} to {high:.1%})")
    for task_id, items in sorted(summary["defects_by_task"].items()):
        print(f"  {task_id}: {len(items)} of {summary['labelled_by_task'].get(task_id, 0)}")
        for item in items:
            print(f"    {item['item_id']}: {item['reason'][:300]}")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: check a workspace's stored ``pyfunc`` rows against the labels."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--run", action="append", default=[], help="only this run (repeatable)")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers")
    parser.add_argument(
        "--uid-base",
        type=int,
        default=UID_BASE,
        help="first uid of the sandbox slots (apart from a run's pool, which may be running)",
    )
    args = parser.parse_args(argv)
    from synthfactory.sandbox import SandboxPool

    rows = read_rows(args.workspace, args.run)
    with SandboxPool(args.workers, uid_base=args.uid_base) as pool:
        checks = check_payloads(rows, pool)
    summary = summarize(checks)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    _print_report(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
