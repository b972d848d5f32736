"""Prompt templates: Jinja in a sandbox, strict about undefined names.

A template that names a field the payload does not have fails loudly instead of sending
an empty string to a paid endpoint.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    # The environment is immutable and side-effect free, so one per process is fine;
    # it is a cache, not state anyone can change.
    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


@lru_cache(maxsize=1024)
def compile_template(source: str) -> jinja2.Template:
    """Compile ``source``; raises ``ValueError`` with the line on a syntax error."""
    try:
        return _environment().from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise ValueError(f"template syntax error on line {err.lineno}: {err.message}") from None


@lru_cache(maxsize=256)
def compile_expression(source: str) -> Any:
    """Compile a Jinja expression (``level != 'hard' or topic in ['a', 'b']``), sandboxed;
    raises ``ValueError`` on a syntax error. Call the result with the names it uses."""
    try:
        return _environment().compile_expression(source, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as err:
        raise ValueError(f"expression syntax error: {err.message}") from None


def render(source: str, payload: dict[str, Any]) -> str:
    """Render ``source`` with the payload's fields; a missing field raises ``ValueError``."""
    try:
        return compile_template(source).render(payload)
    except jinja2.UndefinedError as err:
        raise ValueError(f"template uses a field the item does not have: {err.message}") from None
