"""The fake Coinbase Advanced Trade exchange (`glue exchange`): simulator, recording replay, faults.

Modules: `protocol` (wire formats), `market` (the seeded market model), `sources` (simulator and
recording event logs), `session` (one client's subscriptions and rendering), `faults` (the --fault
grammar), `server` (the WebSocket server, `ExchangeServer`), `simulate` (the socket-free generator).
"""

from __future__ import annotations

from glue.exchange.faults import Fault, parse_fault
from glue.exchange.server import ExchangeOptions, ExchangeServer, run_exchange
from glue.exchange.simulate import simulate, simulate_frames

__all__ = [
    "ExchangeOptions",
    "ExchangeServer",
    "Fault",
    "parse_fault",
    "run_exchange",
    "simulate",
    "simulate_frames",
]
