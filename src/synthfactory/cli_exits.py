"""How every ``synthfactory`` command ends on an error: the message on stderr, and exit code
2 for bad input (a ``UserInputError``) or 1 for any other ``SynthFactoryError`` or a full
disk met outside a run (a run stops on one by itself, with its status kept)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import NoReturn

import typer
from pydantic import ValidationError

from synthfactory.errors import ConfigError, SynthFactoryError, UserInputError
from synthfactory.runtime.disk_full import is_disk_full


def plain_fail(message: str, code: int) -> NoReturn:
    """Print ``error: MESSAGE`` to stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def exit_codes(fail: Callable[[str, int], NoReturn] = plain_fail) -> Iterator[None]:
    """Turn the library's errors raised in the block into the command's exit."""
    try:
        yield
    except UserInputError as err:
        fail(str(err), 2)
    except SynthFactoryError as err:
        fail(str(err), 1)
    except (OSError, sqlite3.Error) as err:
        if not is_disk_full(err):
            raise
        fail(f"the disk is full ({err}); free some space and run the command again", 1)


def option_error(err: ValidationError) -> ConfigError:
    """pydantic's complaint about options, said with the options' names (``--max-items``)
    in one line, not as pydantic's multi-line dump."""
    problems = []
    for error in err.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            option = "--" + str(error["loc"][0]).replace("_", "-")
            message = f"{option}: {message[:1].lower()}{message[1:]} (got {error['input']!r:.60})"
        problems.append(message)
    return ConfigError("; ".join(problems))


__all__ = ["exit_codes", "option_error", "plain_fail"]
