"""Level2 record streams for the book tests (SQL v4) and the replay memory test.

`book_stream(seed, n)` gives two products' level2 snapshots and updates near the top of the book, tickers and
trades; with `messy`: late and duplicate frames, gaps followed by a re-snapshot, levels that cannot be applied,
events of an unknown type and clock markers.
"""

from __future__ import annotations

import random

from glue.records import Record
from glue.testing import fixtures as fx

START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z


def _px(units: int) -> str:
    return f"{units // 100}.{units % 100:02d}"


class _Market:
    """Books of two products that the stream generator edits near the top (prices in cents)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.books = {p: ({m - k: rng.randint(1, 9) for k in range(1, 6)},
                          {m + k: rng.randint(1, 9) for k in range(1, 6)})
                      for p, m in (("BTC-USD", 5_000_000), ("ETH-USD", 300_000))}

    def snapshot_levels(self, product: str) -> tuple[list, list]:
        bids, asks = self.books[product]
        return ([(_px(p), f"{q}.5") for p, q in sorted(bids.items(), reverse=True)],
                [(_px(p), f"{q}.5") for p, q in sorted(asks.items())])

    def change(self, product: str) -> tuple[list, list]:
        """One update: a new level between the best prices, a size change, or a delete (never crossing)."""
        rng = self.rng
        bids, asks = self.books[product]
        best_bid, best_ask = max(bids, default=None), min(asks, default=None)
        side_bid = rng.random() < 0.5
        book = bids if side_bid else asks
        r = rng.random()
        if r < 0.3 and len(book) > 3:
            price, qty = rng.choice(sorted(book)[-3:] if side_bid else sorted(book)[:3]), 0
        elif r < 0.6 and best_bid is not None and best_ask is not None and best_ask - best_bid > 1:
            price, qty = (best_bid + 1, rng.randint(1, 9)) if side_bid else (best_ask - 1, rng.randint(1, 9))
        elif book:
            price, qty = rng.choice(sorted(book)), rng.randint(1, 9)
        else:
            anchor = (best_ask - 1) if side_bid and best_ask else (best_bid + 1) if best_bid else 5_000_000
            price, qty = anchor, rng.randint(1, 9)
        if qty:
            book[price] = qty
        else:
            book.pop(price, None)
        item = [(_px(price), f"{qty}.5" if qty else "0")]
        return (item, []) if side_bid else ([], item)


def book_stream(seed: int, n: int, *, messy: bool = True) -> list[Record]:
    """Two products' level2 (snapshots, updates), tickers and trades; with `messy`: late and duplicate frames,
    gaps followed by a re-snapshot, levels that cannot be applied, events of an unknown type."""
    rng = random.Random(seed)
    market = _Market(rng)
    out: list[Record] = []
    t = START_NS
    seq = 0
    for product in market.books:
        bids, asks = market.snapshot_levels(product)
        out.append(fx.l2(product, t, seq=seq, kind="snapshot", bids=bids, asks=asks))
        seq += 1
    for _ in range(n):
        t += int(rng.expovariate(1 / 150) * 1_000_000) + 1
        product = rng.choice(list(market.books))
        r = rng.random()
        at = t - rng.randint(0, 4 * 10**9) if messy and rng.random() < 0.02 else t
        if r < 0.7:
            bids, asks = market.change(product)
            out.append(fx.l2(product, at, seq=seq, bids=bids, asks=asks))
        elif r < 0.85:
            book_bids, book_asks = market.books[product]
            bid, ask = max(book_bids, default=None), min(book_asks, default=None)
            out.append(fx.ticker(product, at, _px(bid) if bid else None, _px(ask) if ask else None, seq=seq,
                                 iseq=seq))
        elif r < 0.92:
            out.append(fx.trades(product, at, [(str(seq), "100.5", "0.25")], seq=seq))
        elif messy and r < 0.95:
            out.append(fx.gap([product], t - 500_000_000, t, iseq=seq, reason="seq_gap"))
            bids, asks = market.snapshot_levels(product)
            out.append(fx.l2(product, t, seq=seq, kind="snapshot", bids=bids, asks=asks))
        elif messy and r < 0.97 and out:
            out.append(rng.choice(out[-6:]))  # a duplicate record
        elif messy and r < 0.98:
            out.append(fx.l2(product, at, seq=seq, levels=[("ask" if rng.random() < 0.5 else "bid", "1", "1")]))
        elif messy and r < 0.985:
            out.append(fx.l2(product, at, seq=seq, kind="refresh"))
        else:
            out.append(fx.clock(list(market.books), t - 10**9, iseq=seq))
        seq += 1
    # close the stream: fresh snapshots (so the final books are full), then everything becomes final
    for product in market.books:
        bids, asks = market.snapshot_levels(product)
        out.append(fx.l2(product, t, seq=seq, kind="snapshot", bids=bids, asks=asks))
        seq += 1
    out.append(fx.clock(list(market.books), t + 10 * 10**9, iseq=seq))
    return out
