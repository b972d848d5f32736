"""Where a recipe runs: the :class:`Executor` protocol and its backends, and the run driver."""

from synthfactory.runtime.executor import Executor, StepOutcome

__all__ = ["Executor", "StepOutcome"]
