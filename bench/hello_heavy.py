"""``hello`` with a CPU-heavy verifier: the same items, each check burns ~20 ms of CPU.

Loaded by path (``bench/hello_heavy.py``) by the Ray benchmark, so verification workers
and Ray actors load it themselves. The burn is real work (hashing), so it shows up as CPU
time in whichever process runs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from typing import Any

from synthfactory.examples.hello import check_fact
from synthfactory.examples.hello import recipe as hello
from synthfactory.recipe.model import VerifyStep
from synthfactory.verdict import Verdict

BURN_S = 0.020


def heavy_check(item: dict[str, Any]) -> Verdict:
    """``check_fact``, after hashing the fact for ``BURN_S`` of this process's CPU time."""
    blob = str(item.get("answer", {})).encode()
    until = time.process_time() + BURN_S
    while time.process_time() < until:
        blob = hashlib.sha256(blob).digest()
    return check_fact(item)


recipe = dataclasses.replace(
    hello,
    name="hello-heavy",
    steps=(hello.steps[0], VerifyStep(name="check", fn=heavy_check)),
    dataset=dataclasses.replace(hello.dataset, name="hello_heavy") if hello.dataset else None,
)
