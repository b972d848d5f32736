"""Content normalization and shingling: what "the same text" means to every dedup method.

``normalize`` maps texts that differ only in Unicode form, case or whitespace (and, if asked,
punctuation) to one string; ``shingles`` cuts a normalized text into word n-grams, the sets
whose Jaccard similarity MinHash estimates.
"""

from __future__ import annotations

import re
import string
import unicodedata

# Unicode punctuation and symbols: anything that is neither a word character nor a space.
_PUNCTUATION = re.compile(r"[^\w\s]+")
# The same as _PUNCTUATION on ASCII text ("_" is a word character), as a fast translation.
_ASCII_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation if c != "_"})


def normalize(text: str, *, strip_punctuation: bool = False) -> str:
    """Return ``text`` in Unicode NFKC, case-folded, with runs of whitespace made one space
    and no leading or trailing space; with ``strip_punctuation`` punctuation and symbols
    become spaces first (so ``"don't"`` becomes ``"don t"``, never ``"dont"``)."""
    return " ".join(_normal_words(text, strip_punctuation))


def _normal_words(text: str, strip_punctuation: bool) -> list[str]:
    # ASCII is NFKC already and its casefold is lower(): the fast path for most corpora.
    if text.isascii():
        text = text.lower()
        if strip_punctuation:
            text = text.translate(_ASCII_PUNCTUATION)
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
        if strip_punctuation:
            text = _PUNCTUATION.sub(" ", text)
    # str.split() splits on runs of Unicode whitespace, the same set as \s.
    return text.split()


def words(text: str, *, strip_punctuation: bool = True) -> list[str]:
    """The words of ``text`` after :func:`normalize` (punctuation stripped by default)."""
    return _normal_words(text, strip_punctuation)


def shingles(text: str, size: int = 3, *, strip_punctuation: bool = True) -> list[str]:
    """The word ``size``-grams of ``text`` after :func:`normalize`, in order, repeats kept.

    A text shorter than ``size`` words gives one shingle of all its words, and an empty
    text none, so that short texts still compare equal to themselves.
    """
    if size < 1:
        raise ValueError(f"shingle size must be >= 1, got {size}")
    tokens = words(text, strip_punctuation=strip_punctuation)
    if len(tokens) <= size:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]


__all__ = ["normalize", "shingles", "words"]
