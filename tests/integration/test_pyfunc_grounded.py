"""The main job's grounded tier: a solution that misreads its task is rejected even when
the model's own tests agree with it, because the task's own examples are run against it.

Scripted answers on the fake endpoint stand in for the model; the code runs in the real
sandbox.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from synthfactory import EndpointConfig, RunConfig, run_recipe
from synthfactory.examples.pyfunc import build_recipe, load_tasks
from synthfactory.ledger import Ledger
from synthfactory.store.lance import LanceStore
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.workspace import Workspace

BANK = [
    {
        "id": "running_sum",
        "category": "lists",
        "task": "return the running sum of a list of numbers",
        "function": "running_sum",
        "examples": ["assert running_sum([1, 2, 3]) == [1, 3, 6]", "assert running_sum([]) == []"],
    },
    {
        "id": "dedupe",
        "category": "lists",
        "task": "remove duplicates from a list, keeping the first occurrence order",
        "function": "dedupe",
        "examples": ["assert dedupe([3, 1, 3, 2]) == [3, 1, 2]", "assert dedupe([]) == []"],
    },
    {
        "id": "second_largest",
        "category": "lists",
        "task": "return the second largest distinct number in a list",
        "function": "second_largest",
        "examples": ["assert second_largest([5, 9, 9]) == 5", "assert second_largest([1, 2]) == 1"],
    },
    {
        "id": "reverse_string",
        "category": "strings",
        "task": "reverse a string",
        "function": "reverse_string",
        "examples": ["assert reverse_string('abc') == 'cba'", "assert reverse_string('') == ''"],
    },
]


def _answer(name: str, solution: str, tests: list[str]) -> str:
    """The answer in the form the recipe asks for: one fenced block, function then asserts
    (``name`` is what the parser must find)."""
    assert f"def {name}(" in solution
    return "```python\n" + solution + "\n" + "\n".join(tests) + "\n```\nDone."


SCRIPTS = [
    (
        "named running_sum",
        _answer(
            "running_sum",
            "def running_sum(numbers):\n    out, total = [], 0\n    for n in numbers:\n"
            "        total += n\n        out.append(total)\n    return out\n",
            ["assert running_sum([2, 2]) == [2, 4]", "assert running_sum([5]) == [5]"],
        ),
    ),
    (
        "named dedupe",  # the misreading, with tests that agree with it
        _answer(
            "dedupe",
            "def dedupe(lst):\n    return sorted(set(lst))\n",
            ["assert dedupe([2, 1, 2]) == [1, 2]", "assert dedupe([]) == []"],
        ),
    ),
    (
        "named second_largest",  # not distinct; its tests agree
        _answer(
            "second_largest",
            "def second_largest(numbers):\n    return sorted(numbers)[-2]\n",
            ["assert second_largest([1, 2, 3]) == 2", "assert second_largest([4, 8]) == 4"],
        ),
    ),
    (
        "named reverse_string",
        _answer(
            "reverse_string",
            "def reverse_string(s):\n    return s[::-1]\n",
            ["assert reverse_string('ab') == 'ba'", "assert reverse_string('x') == 'x'"],
        ),
    ),
]


def test_misread_tasks_are_rejected_by_the_tasks_own_examples(tmp_path: Path) -> None:
    bank = tmp_path / "tasks.jsonl"
    bank.write_text("".join(json.dumps(t) + "\n" for t in BANK))
    assert load_tasks(bank) == BANK
    recipe = build_recipe(bank)
    ws = tmp_path / "ws"
    with FakeServer(FakeServerConfig(scripts=SCRIPTS)) as server:
        summary = asyncio.run(
            run_recipe(
                recipe,
                workspace=ws,
                config=RunConfig(target=2, seed=1, max_items=60, max_in_flight=2),
                endpoints=[EndpointConfig(role="generator", url=server.url)],
            )
        )
    assert summary.status == "finished", summary.message
    rows = LanceStore(Workspace(ws).dataset_uri("pyfunc")).read().to_pylist()
    # One example per task, and only the right ones.
    assert sorted(r["task"]["id"] for r in rows) == ["reverse_string", "running_sum"]
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        items = ledger.items(summary.run_id)
    finally:
        ledger.close()
    misread = [i for i in items if i.payload["task"]["id"] in {"dedupe", "second_largest"}]
    assert misread, "the draw never reached a misread task: the test would prove nothing"
    for item in misread:
        if item.state == "rejected" and item.verdicts[-1]["step"] == "new_task":
            continue  # a repeat of a task, turned away before any model call
        assert item.state == "rejected"
        last = item.verdicts[-1]
        assert (last["step"], last["tier"], last["status"]) == ("examples_pass", "grounded", "fail")
        assert "of the task's own examples" in last["reason"]
        # The model's own tests would have passed it: the grounded tier is what caught it.
        assert all(v["status"] == "pass" for v in item.verdicts[:-1])
    # Canaries measured both sandbox tiers; the grounded tier caught the known misreadings.
    quality = summary.verifier_quality
    assert quality["grounded"]["catch_rate"]["n"] > 0


def test_an_answer_the_parser_cannot_use_is_an_invalid_attempt_and_is_retried(
    tmp_path: Path,
) -> None:
    """The signature alone (what JSON-constrained decoding used to produce) parses to no
    function body: each attempt is recorded as invalid with the parser's reason, and the
    item fails after the step's attempts instead of reaching a verifier."""
    bank = tmp_path / "tasks.jsonl"
    bank.write_text("".join(json.dumps(t) + "\n" for t in BANK))
    ws = tmp_path / "ws"
    scripts = [("named ", "```python\ndef reverse_string(s):\n```")]
    with FakeServer(FakeServerConfig(scripts=scripts)) as server:
        summary = asyncio.run(
            run_recipe(
                build_recipe(bank),
                workspace=ws,
                config=RunConfig(target=1, seed=1, max_items=1),
                endpoints=[EndpointConfig(role="generator", url=server.url)],
            )
        )
    assert summary.failed == 1 and summary.stored == 0
    ledger = Ledger(Workspace(ws).ledger_path)
    try:
        (item,) = ledger.items(summary.run_id)
        writes = [a for a in ledger.attempts(item.item_id) if a.step == "write"]
    finally:
        ledger.close()
    assert [a.status for a in writes] == ["invalid"] * 3
    assert all("could not be parsed: the code does not parse" in (a.error or "") for a in writes)
