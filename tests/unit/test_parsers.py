"""``python_code``: the code in a model's free-text answer, split into solution and tests."""

from __future__ import annotations

import pytest

from synthfactory.recipe.parsers import python_code

ANSWER = '''Here is the function:

```python
import math

LIMIT = 10

@staticmethod
def helper(x):
    return x

def area(r):
    """Area of a circle."""
    return math.pi * r * r

print(area(1))
result = area(2)
assert area(0) == 0
assert round(area(1), 2) == 3.14
```

The function uses math.pi.'''


def test_solution_keeps_imports_constants_and_definitions_in_order_and_drops_the_rest() -> None:
    parsed = python_code(ANSWER)
    assert parsed["function_name"] == "area"  # the function the tests call, not the helper
    assert parsed["solution"] == (
        "import math\n\nLIMIT = 10\n\n@staticmethod\ndef helper(x):\n    return x\n\n"
        'def area(r):\n    """Area of a circle."""\n    return math.pi * r * r\n'
    )
    assert parsed["tests"] == ["assert area(0) == 0", "assert round(area(1), 2) == 3.14"]


def test_a_block_cut_by_the_stop_sequence_and_a_main_guard_still_parse() -> None:
    text = (
        "```python\ndef inc(x):\n    return x + 1\n\n"
        "if __name__ == '__main__':\n    assert inc(1) == 2\n"
    )
    parsed = python_code(text)
    assert parsed["tests"] == ["assert inc(1) == 2"]
    assert parsed["solution"] == "def inc(x):\n    return x + 1\n"


def test_several_blocks_are_joined_and_an_answer_without_fences_is_code() -> None:
    two = "```python\ndef f(x):\n    return x\n```\nTests:\n```python\nassert f(1) == 1\n```"
    assert python_code(two)["tests"] == ["assert f(1) == 1"]
    bare = "def g():\n    return 2\nassert g() == 2\n"
    assert python_code(bare)["function_name"] == "g"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "holds no code"),
        ("```python\n```", "holds no code"),
        ("```python\ndef f(x):\n```", "does not parse"),
        ("```python\nassert 1 == 1\n```", "defines no function"),
        ("Sorry, I cannot help with that.", "does not parse"),
    ],
)
def test_an_answer_without_usable_code_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        python_code(text)
