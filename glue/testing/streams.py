"""Record streams for the exactness tests (replay == live) and the ways they are landed.

`messy_stream` is a seeded ticker stream with what breaks naive code (out-of-order stamps, some beyond the
lateness, gaps, duplicate frames, repeated trade ids); `holey_stream` strings several of them together with
holes of seconds to weeks between them (SQL v5 sessions); `with_clocks` adds clock markers; `one_shot` lands a
stream in one go, `cut_and_restart` in given batches with warehouse restarts in between (and checks that what
it emitted is what it stored).
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pyarrow as pa

from glue.config import FeatureSettings
from glue.protocol import envelope_event_ns
from glue.records import Record
from glue.testing import fixtures as fx
from glue.warehouse import Warehouse

FS = FeatureSettings(lateness_s=2)  # the lateness the exactness tests land with


def messy_stream(seed: int, n: int, start_ns: int = 1_767_225_600 * 10**9) -> list[Record]:
    """Tickers for two products with out-of-order stamps (some beyond the lateness), gaps, duplicates, trades."""
    rng = random.Random(seed)
    base = list(fx.simulate_ticker_stream(n, seed=seed, mean_gap_ms=120, jitter_ms=2500, gap_every=97,
                                          start_ns=start_ns))
    out: list[Record] = []
    for i, rec in enumerate(base):
        out.append(rec)
        r = rng.random()
        if r < 0.05 and out:
            out.append(rng.choice(out[-5:]))  # a duplicate frame
        elif r < 0.15 and rec.frame:
            product = "BTC-USD" if '"BTC-USD"' in rec.frame else "ETH-USD"
            tid = str(rng.randrange(40))  # repeats: de-duplication by (product, trade id) kicks in
            out.append(fx.trades(product, rec.recv_ns - 1_000_000, [(tid, "100.5", f"{rng.uniform(0, 2):.6f}")],
                                 seq=100_000 + i))
    return out


def holey_stream(seed: int, n: int, holes_s: tuple[int, ...] = (3, 7200, 30 * 86400)) -> list[Record]:
    """Messy streams of `n` records each, one more than `holes_s`, on connections of their own, each after
    the one before with a hole of that many seconds between them, marked by a data_gap marker per product
    with reason "restart" (as ingest writes after a restart; SQL v5 starts a session after it)."""
    out: list[Record] = []
    start_ns = 1_767_225_600 * 10**9
    for k in range(len(holes_s) + 1):
        part = [dataclasses.replace(r, conn=f"c{k}") for r in messy_stream(seed + k, n, start_ns)]
        if out:
            last_ns = max(event_ns(r) or 0 for r in out)
            first_ns = min(event_ns(r) or last_ns for r in part if r.frame)
            for product in ("BTC-USD", "ETH-USD"):  # one marker per product, as keyed in Kafka
                out.append(fx.gap([product], last_ns, first_ns - 1, conn=f"c{k}", iseq=len(out), reason="restart"))
        out.extend(part)
        if k < len(holes_s):
            # + 3 s: the next part's stamps jitter up to 2.5 s back (the hole is at least holes_s[k] long)
            start_ns = max(event_ns(r) or 0 for r in part) + (holes_s[k] + 3) * 10**9
    return out


def with_clocks(records: list[Record], seed: int) -> list[Record]:
    """The stream with clock markers (SQL v3 moves watermarks with them) after some records, for one or both
    products, stamped from 1 s before to 3 s after that record's event time (so some frames become late)."""
    rng = random.Random(seed)
    out: list[Record] = []
    for rec in records:
        out.append(rec)
        ns = event_ns(rec) if rec.frame else None
        if ns is not None and rng.random() < 0.05:
            products = rng.choice([["BTC-USD"], ["ETH-USD"], ["BTC-USD", "ETH-USD"]])
            out.append(fx.clock(products, ns + rng.randint(-10**9, 3 * 10**9), iseq=rec.iseq))
    return out


def one_shot(records: list[Record]) -> pa.Table:
    with Warehouse.open(":memory:", FS) as wh:
        wh.land(records)
        wh.finalize()
        return wh.features()


def cut_and_restart(records: list[Record], path: Path, cuts: list[int], restarts: set[int],
                    fs: FeatureSettings = FS) -> pa.Table:
    parts = []
    wh = Warehouse.open(str(path), fs)
    start = 0
    try:
        for k, size in enumerate([*cuts, len(records)]):
            chunk = records[start:start + size]
            start += len(chunk)
            if chunk:
                wh.land(chunk)
                parts.append(wh.finalize())
            if k in restarts:
                wh.close()
                wh = Warehouse.open(str(path), fs)
            if start >= len(records):
                break
        emitted = pa.concat_tables(parts).sort_by([("product_id", "ascending"), ("second_at", "ascending")])
        stored = wh.features()
    finally:
        wh.close()
    assert emitted.equals(stored)
    return emitted




def event_ns(rec: Record) -> int | None:
    """The envelope event time of a frame record (None for markers)."""
    return envelope_event_ns(json.loads(rec.frame)) if rec.frame else None
