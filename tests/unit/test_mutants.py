"""Mutants for canaries: each is valid Python that differs from the original, reproducibly."""

from __future__ import annotations

import ast
import random

from synthfactory.verify.canaries import Canaries, CanaryCheck, tier_quality
from synthfactory.verify.mutants import MutateCode, SwapAnswer, mutate_source

RUNNING_SUM = (
    "def running_sum(numbers):\n"
    "    out, total = [], 0\n"
    "    for n in numbers:\n"
    "        total += n\n"
    "        out.append(total)\n"
    "    return out\n"
)


def test_mutants_parse_differ_and_repeat_for_a_seed() -> None:
    seen = set()
    for seed in range(30):
        mutated = mutate_source(RUNNING_SUM, random.Random(seed))
        assert mutated is not None
        ast.parse(mutated)
        assert ast.unparse(ast.parse(mutated)) != ast.unparse(ast.parse(RUNNING_SUM))
        assert mutated == mutate_source(RUNNING_SUM, random.Random(seed))
        seen.add(mutated)
    assert len(seen) >= 3  # several kinds of change, not one


def test_nothing_to_mutate_or_not_python() -> None:
    assert mutate_source("pass\n", random.Random(0)) is None
    assert mutate_source("def (:\n", random.Random(0)) is None


def test_mutate_code_keeps_the_original_payload_intact() -> None:
    payload = {"task": "t", "code": {"solution": RUNNING_SUM, "tests": ["assert 1"]}}
    made = MutateCode()(payload, payload, random.Random(1))
    assert made is not None and made["code"]["solution"] != RUNNING_SUM
    assert payload["code"]["solution"] == RUNNING_SUM and made["code"]["tests"] == ["assert 1"]


def test_swap_answer_renames_the_donor_and_skips_the_same_task() -> None:
    mine = {"task": "a", "code": {"function_name": "running_sum", "solution": RUNNING_SUM}}
    donor = {
        "task": "b",
        "code": {"function_name": "total", "solution": "def total(xs):\n    return sum(xs)\n"},
    }
    made = SwapAnswer()(mine, donor, random.Random(0))
    assert made is not None
    assert made["code"]["solution"].startswith("def running_sum(xs):")
    assert SwapAnswer()(mine, mine, random.Random(0)) is None


def _check(i: int, *, bad: bool, status: str, tier: str = "judge") -> CanaryCheck:
    return CanaryCheck(f"c{i}", "r", f"i{i}", "s", tier, bad, "declared", "", status, "")


def test_floor_needs_enough_canaries_and_a_confident_shortfall() -> None:
    spec = Canaries(floors={"judge": 0.5}, min_count=10)
    few = [_check(i, bad=True, status="pass") for i in range(9)]
    assert not tier_quality(few, spec)["judge"].below_floor  # 9 < min_count
    many = [*few, _check(9, bad=True, status="pass")]
    assert tier_quality(many, spec)["judge"].below_floor  # 0/10: upper bound 28% < 50%
    half = [_check(i, bad=True, status="fail" if i % 2 else "pass") for i in range(10)]
    assert not tier_quality(half, spec)["judge"].below_floor
    # Infrastructure errors say nothing about the verifier; good canaries give false rejects.
    mixed = [
        *half,
        _check(20, bad=True, status="infra_error"),
        _check(21, bad=False, status="fail"),
        _check(22, bad=False, status="pass"),
    ]
    quality = tier_quality(mixed, spec)["judge"]
    assert quality.caught.n == 10
    assert (quality.false_rejects.k, quality.false_rejects.n) == (1, 2)


def test_sql_and_number_mutators() -> None:
    from synthfactory.verify.mutants import ChangeNumber, DropWhere

    payload = {"answer": {"sql": "SELECT name FROM customers WHERE country = 'US'"}}
    made = DropWhere()(payload, payload, random.Random(0))
    assert made is not None and "WHERE" not in made["answer"]["sql"].upper()
    plain = {"answer": {"sql": "SELECT COUNT(*) FROM customers"}}
    limited = DropWhere()(plain, plain, random.Random(0))
    assert limited is not None and "LIMIT 1" in limited["answer"]["sql"]
    assert DropWhere()({"answer": {"sql": "not sql ((("}}, {}, random.Random(0)) is None
    math = {"answer": {"final": "x = 42"}}
    assert ChangeNumber()(math, math, random.Random(0)) == {"answer": {"final": "x = 43"}}
    assert ChangeNumber()({"answer": {"final": 7}}, {}, random.Random(0)) == {
        "answer": {"final": 8}
    }
