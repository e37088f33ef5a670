"""Keep freed memory in the process for the next step, instead of handing it back to the system.

A training step makes and frees the same large temporaries every time (activations, gradients of
hundreds of KiB each). By default glibc's malloc maps every block above its threshold freshly from
the system and unmaps it on free, so each step pays page faults to get zeroed pages back: about a
sixth of a TinyGPT step on our 2-core machine. Raising the mmap and trim thresholds (as the
MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ environment variables would) makes freed blocks
reusable. The cost: the process keeps its peak memory. Other C libraries (macOS, musl) are left alone.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 * 2**20


def keep_freed_memory() -> bool:
    """Set glibc's thresholds so freed blocks up to 32 MiB are reused; True if they were set (glibc on Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded into this process
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
