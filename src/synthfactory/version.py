"""The version of synthfactory, in a module of its own so that anything (the exports'
builder version, the package root) can name it without importing the package's API."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
