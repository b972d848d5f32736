"""``hello`` whose verifier spins for ~3 ms of CPU per item (loaded by path in the Ray tests)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from synthfactory.examples.hello import check_fact
from synthfactory.examples.hello import recipe as hello
from synthfactory.recipe.model import VerifyStep
from synthfactory.verdict import Verdict


def spinning_check(item: dict[str, Any]) -> Verdict:
    """``check_fact`` after spinning for 3 ms of this process's CPU time."""
    until = time.process_time() + 0.003
    while time.process_time() < until:
        pass
    return check_fact(item)


recipe = dataclasses.replace(
    hello, name="hello-spin", steps=(hello.steps[0], VerifyStep(name="check", fn=spinning_check))
)
