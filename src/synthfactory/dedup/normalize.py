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
# On ASCII text, one bytes.translate does casefold (= lower) and, in the second table,
# _PUNCTUATION's job too ("_" is a word character): much faster than str methods.
_ASCII_LOWER = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
_ASCII_LOWER_NO_PUNCTUATION = bytes(
    ord(" ") if c < 128 and _PUNCTUATION.match(chr(c)) else _ASCII_LOWER[c] for c in range(256)
)


def normalize(text: str, *, strip_punctuation: bool = False) -> str:
    """Return ``text`` in Unicode NFKC, case-folded, with runs of whitespace made one space
    and no leading or trailing space; with ``strip_punctuation`` punctuation and symbols
    become spaces first (so ``"don't"`` becomes ``"don t"``, never ``"dont"``)."""
    return " ".join(_normal_words(text, strip_punctuation))


def _normal_words(text: str, strip_punctuation: bool) -> list[str]:
    # ASCII is NFKC already and its casefold is lower(): the fast path for most corpora.
    if text.isascii():
        table = _ASCII_LOWER_NO_PUNCTUATION if strip_punctuation else _ASCII_LOWER
        return text.encode("ascii").translate(table).decode("ascii").split()
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
