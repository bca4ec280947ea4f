"""Clean shutdown for long-running loops: SIGINT/SIGTERM set a stop event instead of killing mid-batch."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)


@contextmanager
def stop_on_signals(stop: threading.Event, loop_name: str) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM set `stop`; the loop finishes its batch, flushes and returns.

    Signal handlers can only be installed from the main thread; elsewhere the caller owns `stop`.
    The previous handlers come back on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, _frame: Any) -> None:
        log.info("%s: %s received, finishing the current batch", loop_name, signal.Signals(signum).name)
        stop.set()

    for s in previous:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
