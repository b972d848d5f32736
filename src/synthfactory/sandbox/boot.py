"""Start a clean interpreter that runs one function of this package.

The pool server must never inherit a process that imported Lance (not fork-safe) or
anything else heavy, and it should start fast. So it is a fresh ``python -I`` in which
``synthfactory`` is registered as a bare namespace for its directory: importing
``synthfactory.sandbox.server`` then runs this package's modules (and ``errors``,
``verdict``) without running ``synthfactory/__init__.py`` and what it pulls in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent

_BOOT = """
import sys, types
pkg = types.ModuleType("synthfactory")
pkg.__path__ = [{pkg_dir!r}]
sys.modules["synthfactory"] = pkg
from {module} import {func}
{func}(sys.argv[1:])
"""


def clean_python_argv(module: str, func: str, *args: str) -> list[str]:
    """argv that runs ``module.func(list_of_args)`` in a clean, isolated interpreter."""
    code = _BOOT.format(pkg_dir=str(_PACKAGE_DIR), module=module, func=func)
    return [sys.executable, "-I", "-c", code, *args]


def clean_env() -> dict[str, str]:
    """The environment of the pool server: nothing of the caller's (no API keys)."""
    return {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


__all__ = ["clean_env", "clean_python_argv"]
