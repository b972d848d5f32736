"""Math answers from a model, parsed safely and compared for equivalence with sympy.

sympy's own parsers call ``eval`` on their input, which must never see model output. So
the text is tokenized first and refused unless every token is a number, an operator from a
short list, or a name from a short list (single-letter variables, a few Greek letters, the
common functions and constants). Only then is it handed to ``parse_expr``, with a global
namespace that holds nothing but those names.
"""

from __future__ import annotations

import io
import signal
import threading
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_FUNCTIONS = frozenset(
    {
        "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
        "exp", "log", "ln", "sqrt", "Abs", "abs", "factorial", "floor", "ceiling",
    }
)  # fmt: skip
_CONSTANTS = frozenset({"pi", "E", "I", "oo"})
_GREEK = frozenset({"alpha", "beta", "gamma", "delta", "theta", "lambda_", "mu", "sigma", "phi"})
_OPERATORS = frozenset({"+", "-", "*", "/", "**", "^", "(", ")", ",", "!"})
_MAX_LENGTH = 500
_DECIDE_SECONDS = 2.0


class MathParseError(ValueError):
    """The text is not a math expression this parser accepts."""


def _check_tokens(text: str) -> None:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as err:
        raise MathParseError(f"cannot tokenize: {err}") from None
    for tok in tokens:
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
            continue
        if tok.type == tokenize.NUMBER:
            if "j" in tok.string.lower():
                raise MathParseError(f"complex literal {tok.string!r} is not allowed")
            continue
        if tok.type == tokenize.OP and tok.string in _OPERATORS:
            continue
        if tok.type == tokenize.NAME:
            name = tok.string
            if (len(name) == 1 and name.isalpha()) or name in _FUNCTIONS | _CONSTANTS | _GREEK:
                continue
        raise MathParseError(f"token {tok.string!r} is not allowed in a math expression")


def parse_math(text: str) -> Any:
    """Parse ``text`` (``2x^2 + sin(x)``, ``1/2``, ``sqrt(2)*pi``) into a sympy expression."""
    text = text.strip().strip("$").replace("\\cdot", "*")
    if not text:
        raise MathParseError("empty expression")
    if len(text) > _MAX_LENGTH:
        raise MathParseError(f"expression longer than {_MAX_LENGTH} characters")
    _check_tokens(text)
    import sympy
    from sympy.parsing.sympy_parser import (
        convert_xor,
        factorial_notation,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    names: dict[str, Any] = {
        name: getattr(sympy, name) for name in _FUNCTIONS | _CONSTANTS if hasattr(sympy, name)
    }
    names.update(
        {"ln": sympy.log, "abs": sympy.Abs, "Integer": sympy.Integer, "Float": sympy.Float,
         "Rational": sympy.Rational, "Symbol": sympy.Symbol, "Function": sympy.Function}
    )  # fmt: skip
    transformations = (
        *standard_transformations,
        convert_xor,
        implicit_multiplication_application,
        factorial_notation,
    )
    try:
        with _time_limit(_DECIDE_SECONDS):
            return parse_expr(text, global_dict=names, transformations=transformations)
    except TimeoutError:
        raise MathParseError("expression too expensive to parse") from None
    except (SyntaxError, TypeError, ValueError, AttributeError, sympy.SympifyError) as err:
        raise MathParseError(f"{type(err).__name__}: {err}") from None


def equivalent(a: Any, b: Any) -> bool | None:
    """True if ``a == b`` as math, False if not, None if it could not be decided in time."""
    try:
        with _time_limit(_DECIDE_SECONDS):
            difference = a - b
            if difference == 0:
                return True
            # equals() tests numerically at random points before trying to simplify.
            result = difference.equals(0)
    except TimeoutError:
        return None
    except (TypeError, ValueError, AttributeError, ZeroDivisionError):
        return False
    return None if result is None else bool(result)


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    # sympy has no cancellation; an alarm is the only bound on a pathological expression
    # (9^9^9^9). Verification workers run checks in their main thread, where it works;
    # elsewhere the expression-length limit is the only guard.
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
