"""Running a user's Python (a recipe file, a ``module:attr`` reference) and saying what went
wrong in one located line: the file and line of the user's code, never a traceback.

Importing runs whatever the module does at top level. Anything it raises, ``SystemExit``
included (a script that calls ``sys.exit()`` or parses ``sys.argv`` with argparse), becomes
a :class:`~synthfactory.errors.RecipeError`. ``KeyboardInterrupt`` is the user's Ctrl-C and
is left alone.
"""

from __future__ import annotations

import importlib
import re
import traceback
from types import ModuleType

from synthfactory.errors import RecipeError, SynthFactoryError
from synthfactory.recipe.yaml_source import one_line

#: A dotted Python name, as a module or attribute reference spells it.
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def where_raised(err: BaseException, files: tuple[str, ...] = ()) -> tuple[str, int] | None:
    """The file and line in the user's code where ``err`` was raised: a syntax error's own
    location, else the innermost traceback frame in one of ``files`` (any file if empty)
    that is not part of Python's import machinery."""
    if isinstance(err, SyntaxError) and err.filename and err.lineno:
        return err.filename, err.lineno
    found = None
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename.startswith("<frozen") or frame.lineno is None:
            continue
        if not files or frame.filename in files:
            found = (frame.filename, frame.lineno)
    return found


def describe(err: BaseException) -> str:
    """What user code raised, in one line (our own errors say what went wrong already)."""
    if isinstance(err, SynthFactoryError):
        return one_line(str(err))
    if isinstance(err, SystemExit):
        return f"called exit({err.code!r}) while being loaded"
    if isinstance(err, SyntaxError):
        return f"syntax error: {one_line(err.msg or 'invalid syntax')}"
    text = one_line(str(err))
    return f"raised {type(err).__name__}" + (f": {text}" if text else "")


def failure(err: BaseException, what: str, files: tuple[str, ...] = ()) -> RecipeError:
    """A RecipeError saying ``what`` failed because of ``err``, located in the user's file."""
    message = describe(err)
    at = where_raised(err, files)
    if at is None:
        return RecipeError(f"{what}: {message}")
    file, line = at
    where = f"{what}, line {line}" if what.endswith(file) else f"{what}: {file}, line {line}"
    return RecipeError(f"{where}: {message}", file=file, line=line)


def import_module(name: str, ref: str) -> ModuleType:
    """Import ``name`` for the reference ``ref``, or raise a located RecipeError."""
    if not DOTTED.fullmatch(name):
        raise RecipeError(
            f"recipe {ref!r}: {name!r} is not a module name (expected module:attribute, "
            "e.g. mypackage.recipes:recipe)"
        )
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise RecipeError(
            f"recipe {ref!r}: cannot import {name}: {err} (is it installed or on PYTHONPATH?)"
        ) from None
    except (Exception, SystemExit) as err:
        raise failure(err, f"recipe {ref!r}: importing {name}") from None


__all__ = ["DOTTED", "describe", "failure", "import_module", "where_raised"]
