"""Compact builders of Coinbase envelopes and records, for SQL fixtures, tests and benchmarks.

`ticker(...)`, `trades(...)`, `l2(...)` return `Record`s whose frame text follows the Advanced Trade
protocol (decimal strings, RFC 3339 envelope timestamp); `gap(...)` returns a data_gap marker record.
`simulate_ticker_stream(...)` is a seeded random walk over several products (the bench's "large day").
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from decimal import Decimal

from glue.records import (
    KIND_FRAME,
    KIND_MARKER,
    MARKER_CLOCK,
    MARKER_DATA_GAP,
    Record,
    format_rfc3339_ns,
    parse_rfc3339_ns,
)

__all__ = ["Record", "gap", "l2", "simulate_ticker_stream", "ticker", "trades"]


def _ns(at: int | str) -> int:
    return at if isinstance(at, int) else parse_rfc3339_ns(at)


def ticker(product: str, at: int | str, bid: str | None, ask: str | None, *, seq: int, conn: str = "c1",
           price: str | None = None, bid_qty: str | None = "1", ask_qty: str | None = "1", recv_ns: int | None = None,
           iseq: int | None = None) -> Record:
    ns = _ns(at)
    tk: dict[str, str | None] = {"type": "ticker", "product_id": product,
          "price": price if price is not None else str((Decimal(bid or "0") + Decimal(ask or "0")) / 2),
          "volume_24_h": "1", "low_24_h": "1", "high_24_h": "1", "low_52_w": "1", "high_52_w": "1",
          "price_percent_chg_24_h": "0"}
    if bid is not None:
        tk.update({"best_bid": bid, "best_bid_quantity": bid_qty})
    if ask is not None:
        tk.update({"best_ask": ask, "best_ask_quantity": ask_qty})
    frame = {"channel": "ticker", "timestamp": format_rfc3339_ns(ns), "sequence_num": seq,
             "events": [{"type": "update", "tickers": [tk]}]}
    return _frame(frame, ns, conn, seq if iseq is None else iseq, recv_ns)


def trades(product: str, at: int | str, items: list[tuple[str, str, str]], *, seq: int, conn: str = "c1",
           recv_ns: int | None = None) -> Record:
    """items: (trade_id, price, size)."""
    ns = _ns(at)
    frame = {"channel": "market_trades", "timestamp": format_rfc3339_ns(ns), "sequence_num": seq,
             "events": [{"type": "update", "trades": [
                 {"trade_id": tid, "product_id": product, "price": px, "size": sz, "side": "BUY",
                  "time": format_rfc3339_ns(ns)} for tid, px, sz in items]}]}
    return _frame(frame, ns, conn, seq, recv_ns)


def l2(product: str, at: int | str, *, seq: int, conn: str = "c1", kind: str = "update",
       bids: list | tuple = (), asks: list | tuple = (), levels: list | tuple = (), iseq: int | None = None,
       recv_ns: int | None = None) -> Record:
    """An l2_data frame of one `kind` event (snapshot | update): bids/asks are (price, new quantity) pairs,
    `levels` raw (side, price_level, new_quantity) items. Without levels it only advances the product's
    event time (all that v1-v3 take from level2)."""
    ns = _ns(at)
    stamp = format_rfc3339_ns(ns)
    items = [("bid", p, q) for p, q in bids] + [("offer", p, q) for p, q in asks] + list(levels)
    updates = [{"side": side, "event_time": stamp, "price_level": price, "new_quantity": qty}
               for side, price, qty in items]
    frame = {"channel": "l2_data", "timestamp": stamp, "sequence_num": seq,
             "events": [{"type": kind, "product_id": product, "updates": updates}]}
    return _frame(frame, ns, conn, seq if iseq is None else iseq, recv_ns)


def gap(products: list[str], from_at: int | str, to_at: int | str, *, iseq: int = 0, conn: str = "c1",
        reason: str = "disconnect") -> Record:
    marker = {"type": MARKER_DATA_GAP, "reason": reason, "products": products, "from_ns": _ns(from_at),
              "to_ns": _ns(to_at), "detail": {}}
    return Record(kind=KIND_MARKER, recv_ns=_ns(to_at), conn=conn, iseq=iseq, marker=marker)


def clock(products: list[str], at: int | str, *, iseq: int = 0, conn: str = "c1") -> Record:
    """A clock marker (what ingest writes for a heartbeat): the exchange clock reached `at` for `products`."""
    marker = {"type": MARKER_CLOCK, "products": products, "at_ns": _ns(at), "detail": {"conn": conn}}
    return Record(kind=KIND_MARKER, recv_ns=_ns(at), conn=conn, iseq=iseq, marker=marker)


def _frame(frame: dict, ns: int, conn: str, iseq: int, recv_ns: int | None) -> Record:
    return Record(kind=KIND_FRAME, recv_ns=recv_ns if recv_ns is not None else ns + 1_000_000, conn=conn,
                  iseq=iseq, frame=json.dumps(frame, separators=(",", ":")))


def simulate_ticker_stream(n: int, *, products: tuple[str, ...] = ("BTC-USD", "ETH-USD"), seed: int = 7,
                           start_ns: int = 1_767_225_600 * 10**9, mean_gap_ms: float = 50.0,
                           jitter_ms: float = 0.0, gap_every: int = 0) -> Iterator[Record]:
    """A seeded ticker stream: random-walk mids, random spreads/sizes, optional out-of-order jitter and gaps."""
    rng = random.Random(seed)
    mids = {p: 50_000.0 / (i + 1) for i, p in enumerate(products)}
    t = start_ns
    for i in range(n):
        p = products[rng.randrange(len(products))]
        t += int(rng.expovariate(1.0 / mean_gap_ms) * 1_000_000) + 1
        mids[p] *= 1.0 + rng.gauss(0, 0.0002)
        half = round(mids[p] * rng.uniform(0.00002, 0.0002), 2) or 0.01
        bid, ask = f"{mids[p] - half:.2f}", f"{mids[p] + half:.2f}"
        at = t - (int(rng.uniform(0, jitter_ms) * 1_000_000) if jitter_ms else 0)
        if gap_every and i and i % gap_every == 0:
            yield gap([p], at - 3 * 10**9, at, iseq=i)
        yield ticker(p, at, bid, ask, seq=i, iseq=i, bid_qty=f"{rng.uniform(0.01, 5):.4f}",
                     ask_qty=f"{rng.uniform(0.01, 5):.4f}")
