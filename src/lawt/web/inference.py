"""A bounded pool for model inference: a few threads, a short queue, and a refusal beyond it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the queue is full; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("the calculator is busy; try again shortly")
        self.retry_after = retry_after


class InferencePool:
    """Runs at most ``workers`` jobs at once with at most ``queue`` more waiting."""

    def __init__(self, workers: int, queue: int, retry_after: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lawt-inference")
        self._capacity = workers + queue
        self._pending = 0
        self._lock = threading.Lock()
        self.retry_after = retry_after

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on a worker thread, or raise :class:`Busy` at once when the pool is full."""
        with self._lock:
            if self._pending >= self._capacity:
                raise Busy(self.retry_after)
            self._pending += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: Future | None) -> None:
        with self._lock:
            self._pending -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
