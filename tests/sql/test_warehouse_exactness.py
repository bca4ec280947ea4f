"""Replay == live, bit for bit, for any cut of the stream into batches and any restarts; no leakage.

The "live" side lands the stream in random micro-batches, finalizes after each, and reopens the warehouse
file at random points (a restart); the "replay" side lands it in one go. Rows are compared with
pyarrow's exact equality (every bit of every double).
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from glue.config import FeatureSettings
from glue.records import Record
from glue.warehouse import Warehouse
from glue.warehouse import fixtures as fx

FS = FeatureSettings(lateness_s=2)


def messy_stream(seed: int, n: int) -> list[Record]:
    """Tickers for two products with out-of-order stamps (some beyond the lateness), gaps, duplicates, trades."""
    rng = random.Random(seed)
    base = list(fx.simulate_ticker_stream(n, seed=seed, mean_gap_ms=120, jitter_ms=2500, gap_every=97))
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


def with_clocks(records: list[Record], seed: int) -> list[Record]:
    """The stream with clock markers (SQL v3 moves watermarks with them) after some records, for one or both
    products, stamped from 1 s before to 3 s after that record's event time (so some frames become late)."""
    rng = random.Random(seed)
    out: list[Record] = []
    for rec in records:
        out.append(rec)
        ns = _event_ns(rec) if rec.frame else None
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


def test_messy_stream_has_what_it_claims() -> None:
    records = messy_stream(3, 600)
    with Warehouse.open(":memory:", FS) as wh:
        stats = wh.land(records)
        wh.finalize()
        assert stats.late > 0 and stats.markers > 0
        assert wh.con.sql("SELECT count(*) FROM stg_trades").fetchall()[0][0] > 0


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 120), min_size=1, max_size=25),
       restarts=st.sets(st.integers(0, 25), max_size=4))
# found by this test: a trade's earlier-landed duplicate stamped after the step's end was missed (SQL v1/v2)
@example(seed=109, cuts=[31], restarts=set())
def test_any_batching_and_restarts_equal_one_shot(tmp_path: Path, seed: int, cuts: list[int],
                                                  restarts: set[int]) -> None:
    records = messy_stream(seed, 500)
    path = tmp_path / f"wh-{seed}-{len(cuts)}-{len(restarts)}.duckdb"
    path.unlink(missing_ok=True)
    live = cut_and_restart(records, path, cuts, restarts)
    replay = one_shot(records)
    assert live.num_rows > 0
    assert live.schema.equals(replay.schema)
    assert live.equals(replay)


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 120), min_size=1, max_size=25),
       restarts=st.sets(st.integers(0, 25), max_size=4))
def test_clock_markers_any_batching_equal_one_shot(tmp_path: Path, seed: int, cuts: list[int],
                                                   restarts: set[int]) -> None:
    records = with_clocks(messy_stream(seed, 400), seed)
    assert any(r.marker and r.marker["type"] == "clock" for r in records)
    path = tmp_path / f"wh-clock-{seed}-{len(cuts)}-{len(restarts)}.duckdb"
    path.unlink(missing_ok=True)
    live = cut_and_restart(records, path, cuts, restarts)
    assert live.num_rows > 0
    assert live.equals(one_shot(records))


def test_one_record_batches_equal_one_shot(tmp_path: Path) -> None:
    records = messy_stream(11, 250)
    live = cut_and_restart(records, tmp_path / "wh.duckdb", [1] * len(records), {len(records) // 2})
    assert live.equals(one_shot(records))


def _perturb(rec: Record, factor: float) -> Record:
    """Scale every price in a ticker frame (event times and order unchanged)."""
    import json

    obj = json.loads(rec.frame or "{}")
    for ev in obj.get("events", []):
        for tk in ev.get("tickers", []):
            for key in ("price", "best_bid", "best_ask"):
                if key in tk:
                    tk[key] = f"{float(tk[key]) * factor:.2f}"
    return Record(rec.kind, rec.recv_ns, rec.conn, rec.iseq, frame=json.dumps(obj, separators=(",", ":")))


def _event_ns(rec: Record) -> int | None:
    import json

    from glue.protocol import envelope_event_ns

    return envelope_event_ns(json.loads(rec.frame)) if rec.frame else None


def test_no_leakage_and_labels_see_the_future() -> None:
    records = list(fx.simulate_ticker_stream(3000, products=("BTC-USD",), seed=5, mean_gap_ms=100))
    base = one_shot(records)
    t_ns = _event_ns(records[1500]) // 10**9 * 10**9  # a whole second in the middle
    rng = random.Random(1)
    later = [_perturb(r, rng.uniform(0.98, 1.02)) if (_event_ns(r) or 0) > t_ns else r for r in records]
    moved = one_shot(later)
    t = pa.scalar(t_ns // 1000, pa.timestamp("us"))
    import pyarrow.compute as pc

    def upto(tbl: pa.Table) -> pa.Table:
        return tbl.filter(pc.less_equal(tbl["second_at"], t.cast(tbl.schema.field("second_at").type)))

    assert upto(base).num_rows > 100
    assert upto(base).equals(upto(moved)), "a feature at t changed when only data after t changed"
    assert not base.equals(moved)

    # the label at t reads (t, t+60 s]: perturbing exactly that interval changes it
    horizon = [_perturb(r, rng.uniform(0.98, 1.02)) if t_ns < (_event_ns(r) or 0) <= t_ns + 60 * 10**9 else r
               for r in records]

    def sigma_at(recs: list[Record]) -> float:
        with Warehouse.open(":memory:", FS) as wh:
            wh.land(recs)
            wh.finalize()
            return wh.con.sql("SELECT sigma_future_bps FROM lbl_sigma_future_1s WHERE epoch_ns(second_at) = ?",
                              params=[t_ns]).fetchall()[0][0]

    s0, s1 = sigma_at(records), sigma_at(horizon)
    assert s0 is not None and s1 is not None and s0 != s1
