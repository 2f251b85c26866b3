"""The malloc tuning the CLI applies before training or serving."""

from __future__ import annotations

import platform

import pytest

from lawt.allocator import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")
def test_thresholds_are_set_on_glibc() -> None:
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # idempotent (cached)
