"""Normalization and shingling: what "the same text" means."""

from __future__ import annotations

import pytest

from synthfactory.dedup.normalize import normalize, shingles, words


def test_normalize_sees_through_case_width_and_whitespace() -> None:
    assert normalize("  Hello\t\tWORLD \n") == "hello world"
    # NFKC folds full-width letters and ligatures; casefold handles the German sharp s.
    full_width_hello = "\uff28\uff25\uff2c\uff2c\uff2f"
    assert normalize(f"{full_width_hello} \ufb01ne Stra\u00dfe") == "hello fine strasse"


def test_punctuation_is_kept_unless_asked() -> None:
    assert normalize("Hi, there!") == "hi, there!"
    assert normalize("Hi, there!", strip_punctuation=True) == "hi there"
    # Punctuation becomes a space, so it never glues two words together.
    assert words("don't stop—now") == ["don", "t", "stop", "now"]
    # The ASCII fast path and the Unicode path agree ("_" is a word character in both).
    assert words("a_b, c!") == words("a_b, c!\u00a0") == ["a_b", "c"]


def test_shingles_are_word_ngrams() -> None:
    assert shingles("The cat sat on the mat", 3) == [
        "the cat sat",
        "cat sat on",
        "sat on the",
        "on the mat",
    ]
    assert shingles("two words", 3) == ["two words"]  # short texts still have one shingle
    assert shingles("   ", 3) == []
    with pytest.raises(ValueError, match="shingle size"):
        shingles("x", 0)


@pytest.mark.parametrize("strip", [False, True])
def test_the_ascii_fast_path_agrees_with_the_unicode_path(strip: bool) -> None:
    import re
    import unicodedata

    for char in map(chr, range(128)):
        text = f"Ab{char}Cd {char}e_F"
        slow = unicodedata.normalize("NFKC", text).casefold()
        if strip:
            slow = re.sub(r"[^\w\s]+", " ", slow)
        assert normalize(text, strip_punctuation=strip) == " ".join(slow.split()), repr(char)
