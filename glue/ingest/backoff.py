"""Reconnect delays: capped exponential backoff with additive jitter (nautilus-style defaults).

delay(n) = min(max_s, initial_s * 2**n) + uniform(0, jitter_s), where n counts consecutive failed
attempts; `reset()` after a connection that delivered frames, so a healthy feed that is closed now
and then (deploys, 1000 closes) reconnects quickly, and a dead endpoint is retried ever slower.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial_s: float, max_s: float, jitter_s: float, rng: random.Random | None = None) -> None:
        self.initial_s = max(0.0, initial_s)
        self.max_s = max(self.initial_s, max_s)
        self.jitter_s = max(0.0, jitter_s)
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay_s(self) -> float:
        """The delay before the next attempt; counts the attempt."""
        base = min(self.max_s, self.initial_s * (2 ** min(self.attempts, 62)))
        self.attempts += 1
        return base + self._rng.uniform(0.0, self.jitter_s)

    def reset(self) -> None:
        self.attempts = 0
