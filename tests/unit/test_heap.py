"""HeapTrimmer: freed heap goes back to the OS, at most once per interval."""

from __future__ import annotations

import ctypes.util

import pytest

from synthfactory.runtime.heap import HeapTrimmer


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="no C library to trim")
def test_trims_at_most_once_per_interval_and_returns_freed_memory() -> None:
    trimmer = HeapTrimmer(interval_s=3600)
    assert trimmer.maybe_trim() is False  # the interval starts when the trimmer is made
    trimmer = HeapTrimmer(interval_s=0)
    # Many small blocks from malloc's main heap, then every other one kept: freed holes in
    # the middle of the heap that only a trim hands back.
    blocks = [bytes(600) + i.to_bytes(4, "little") for i in range(200_000)]
    keep = blocks[::64]
    del blocks
    before = _rss_kb()
    assert trimmer.maybe_trim() is True
    after = _rss_kb()
    assert after < before - 10_000, (before, after)  # well over 10 MB handed back
    assert len(keep) == 3125
