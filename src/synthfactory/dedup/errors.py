"""Errors of dedup, rooted in :mod:`synthfactory.errors`::

UserInputError
└── CorpusError (Fatal)     a corpus file that cannot be deduplicated as asked: unknown
                            suffix, unreadable line, a row without the text field
ConfigError
└── DedupConfigError        a bad method, threshold, shingle size or embedder choice
"""

from __future__ import annotations

from synthfactory.errors import ConfigError, UserInputError


class CorpusError(UserInputError):
    """A corpus file that cannot be read or written as asked; the message names the file,
    the line or row when there is one, and what was expected."""


class DedupConfigError(ConfigError):
    """A dedup option out of range or unknown: method, threshold, shingle, num_perm."""


__all__ = ["CorpusError", "DedupConfigError"]
