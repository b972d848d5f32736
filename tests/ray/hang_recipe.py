"""``hello`` whose verifier never returns (loaded by path in the Ray watchdog test)."""

from __future__ import annotations

import dataclasses
from typing import Any

from synthfactory.examples.hello import recipe as hello
from synthfactory.recipe.model import VerifyStep
from synthfactory.verdict import Verdict


def endless_check(item: dict[str, Any]) -> Verdict:
    """Spin forever: a verifier stuck in a loop, holding its CPU."""
    while True:
        pass


recipe = dataclasses.replace(
    hello, name="hello-hang", steps=(hello.steps[0], VerifyStep(name="check", fn=endless_check))
)
