"""The kill -9 test hook of featurize: SIGKILL this process at a named step of the commit order."""

from __future__ import annotations

import logging
import os
import signal

from glue.errors import GlueError

log = logging.getLogger("glue.featurize")


class CrashHook:
    """Test hook for the kill -9 tests: `point:N` SIGKILLs this process the N-th time it passes `point`.

    Points, in commit order: `landed`, `finalized`, `parquet`, `produced` (rows sent, Kafka
    transaction open), `kafka` (transaction committed, DuckDB not yet marked). Empty spec = never.
    """

    POINTS = ("landed", "finalized", "parquet", "produced", "kafka")

    def __init__(self, spec: str = "") -> None:
        self.point, _, n = spec.partition(":")
        if self.point and self.point not in self.POINTS:
            raise GlueError(f"unknown crash point '{self.point}'", f"use one of {', '.join(self.POINTS)}")
        self.left = int(n or 1)

    def __call__(self, point: str) -> None:
        if point == self.point:
            self.left -= 1
            if self.left <= 0:
                log.warning("featurize: crash point %s reached, killing this process (test hook)", point)
                logging.shutdown()
                os.kill(os.getpid(), signal.SIGKILL)
