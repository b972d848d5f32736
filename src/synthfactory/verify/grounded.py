"""Verifiers grounded outside the model's belief: a task's own input/output examples.

Tests written by the model that wrote the solution share its reading of the task: a
"running sum" that returns the total passes the tests the same model wrote for it. The
examples that come with a task (MBPP states every task as a description plus asserts) are
ground truth from the task itself. :func:`task_examples_step` runs a solution against them
in the sandbox, so any recipe whose tasks carry examples can use it.
"""

from __future__ import annotations

from synthfactory.verify.steps import SandboxStep

#: The script the sandbox runs: the solution, then every example, each on its own, so the
#: verdict names the examples that failed and how.
_SCRIPT = """{{{{ {code} }}}}

_examples = {{{{ {examples} | tojson }}}}
_failed = []
for _example in _examples:
    try:
        exec(_example, globals())
    except AssertionError:
        _failed.append(_example)
    except Exception as _err:  # a crash on the task's own example is a wrong answer too
        _failed.append(f"{{_example}} raised {{type(_err).__name__}}: {{_err}}")
if not _examples:
    raise SystemExit("the task has no examples to check against")
if _failed:
    raise SystemExit(
        f"wrong on {{len(_failed)}} of {{len(_examples)}} of the task's own examples: "
        + " | ".join(_failed)
    )
"""


def task_examples_step(
    name: str = "examples_pass",
    *,
    code: str = "code.solution",
    examples: str = "task.examples",
    timeout_s: float = 5.0,
    tier: str = "grounded",
) -> SandboxStep:
    """A sandbox step that runs the solution at payload path ``code``, then each assert
    statement listed at ``examples`` (the task's own input/output examples); the item is
    rejected if any fails or raises. Both paths are Jinja expressions over the payload."""
    return SandboxStep(
        name=name,
        code=_SCRIPT.format(code=code, examples=examples),
        timeout_s=timeout_s,
        tier=tier,
    )


__all__ = ["task_examples_step"]
