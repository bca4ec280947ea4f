"""SQL v4's level2 book: a naive book agrees with it, any batching equals one shot, no leakage, v4 == v3 without l2.

The book is a fold (glue/warehouse/book.py) over the rows SQL gives it (stg_book_events_in); these tests drive
it through the real engine and DuckDB, with streams that carry snapshots, updates and deletes near the top,
re-snapshots after gaps, late and duplicate frames, levels that cannot be applied, tickers, trades and clocks.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glue.config import FeatureSettings
from glue.records import Record
from glue.testing import fixtures as fx
from glue.testing.books import START_NS, book_stream
from glue.testing.streams import cut_and_restart, messy_stream, with_clocks
from glue.warehouse import Warehouse

V4 = FeatureSettings(lateness_s=2, sql_version="v4")
V3 = FeatureSettings(lateness_s=2, sql_version="v3")
TICK = 1  # price units of 0.01


def _one_shot(records: list[Record], fs: FeatureSettings = V4) -> tuple[pa.Table, pa.Table]:
    with Warehouse.open(":memory:", fs) as wh:
        wh.land(records)
        wh.finalize()
        grid = wh.con.sql("SELECT * EXCLUDE (second_at) FROM int_grid_1s ORDER BY product_id, second_s")
        grid = grid.to_arrow_table()
        return wh.features(), grid


def _naive_tops(records: list[Record]) -> dict[tuple[str, int], tuple[int, int, int, int]]:
    """Per (product, second): the top of a dict book after every frame stamped at or before the second's end
    (an in-order stream without gaps: snapshots replace, updates set totals)."""
    books: dict[str, tuple[dict, dict]] = {}
    events = []
    for rec in records:
        if rec.frame and '"l2_data"' in rec.frame:
            obj = json.loads(rec.frame)
            events.append((fx._ns(obj["timestamp"]), obj["events"][0]))
    tops = {}
    last_s = max(ns for ns, _ in events) // 10**9
    i = 0
    for second in range(-(-events[0][0] // 10**9), last_s + 1):
        while i < len(events) and events[i][0] <= second * 10**9:
            ev = events[i][1]
            i += 1
            if ev["type"] == "snapshot":
                books[ev["product_id"]] = ({}, {})
            bids, asks = books[ev["product_id"]]
            for u in ev["updates"]:
                side = bids if u["side"] == "bid" else asks
                price, qty = round(float(u["price_level"]) * 1e8), round(float(u["new_quantity"]) * 1e8)
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        for product, (bids, asks) in books.items():
            if bids and asks:
                b, a = max(bids), min(asks)
                tops[(product, second)] = (b, bids[b], a, asks[a])
    return tops


def test_book_stream_has_what_it_claims() -> None:
    records = book_stream(5, 1500)
    with Warehouse.open(":memory:", V4) as wh:
        stats = wh.land(records)
        wh.finalize()
        assert stats.late > 0
        assert {"data_gap", "late_frame", "bad_level", "bad_event"} <= set(wh.book_breaks), wh.book_breaks
        kinds = dict(wh.con.sql("SELECT action, count(*) FROM stg_book_events_in(-1, 9223372036854775807) "
                                "GROUP BY ALL").fetchall())
        assert kinds["reset"] >= 2 and kinds["set"] > 300 and kinds["break"] > 5


def test_book_equals_a_naive_book_on_an_in_order_stream() -> None:
    records = book_stream(8, 800, messy=False)
    _, grid = _one_shot(records)
    want = _naive_tops(records)
    got = {}
    for row in grid.to_pylist():
        if row["best_bid"] is not None:
            got[(row["product_id"], row["second_s"])] = (
                round(row["best_bid"] * 10**8), round(row["best_bid_qty"] * 10**8),
                round(row["best_ask"] * 10**8), round(row["best_ask_qty"] * 10**8))
    common = set(want) & set(got)
    assert len(common) > 100
    assert {k: got[k] for k in sorted(common)} == {k: want[k] for k in sorted(common)}
    # every second the naive book has a quote, the grid has that quote (the book only, no ticker fallback)
    assert set(want) <= set(got)


def _cut_book(records: list[Record], path: Path, cuts: list[int], restarts: set[int]) -> dict[str, pa.Table]:
    """Land in cuts (finalize after each, reopen the file after the cuts in `restarts`); the book's tables."""
    cut_and_restart(records, path, cuts, restarts, V4)
    with Warehouse.open(str(path), V4) as wh:
        return _book_tables(wh)


def _book_tables(wh: Warehouse) -> dict[str, pa.Table]:
    return {name: wh.con.sql(f"SELECT * FROM {name} ORDER BY ALL").to_arrow_table()
            for name in ("int_book_levels", "int_book_state", "int_grid_1s")}


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 120), min_size=1, max_size=25),
       restarts=st.sets(st.integers(0, 25), max_size=4))
def test_book_any_batching_and_restarts_equal_one_shot(tmp_path: Path, seed: int, cuts: list[int],
                                                       restarts: set[int]) -> None:
    records = book_stream(seed, 500)
    path = tmp_path / f"wh-book-{seed}-{len(cuts)}-{len(restarts)}.duckdb"
    path.unlink(missing_ok=True)
    live = cut_and_restart(records, path, cuts, restarts, V4)
    replay, _ = _one_shot(records)
    assert live.num_rows > 0
    assert live.equals(replay)


def test_book_one_record_batches_equal_one_shot(tmp_path: Path) -> None:
    records = book_stream(21, 300)
    live = cut_and_restart(records, tmp_path / "wh.duckdb", [1] * len(records), {len(records) // 2}, V4)
    replay, _ = _one_shot(records)
    assert live.equals(replay)


def test_book_state_and_grid_survive_restarts_bitwise(tmp_path: Path) -> None:
    records = book_stream(34, 600)
    rng = random.Random(34)
    cuts = [rng.randint(1, 40) for _ in range(60)]
    live = _cut_book(records, tmp_path / "wh.duckdb", cuts, {3, 9, 20, 31, 44})
    with Warehouse.open(":memory:", V4) as wh:
        wh.land(records)
        wh.finalize()
        replay = _book_tables(wh)
    assert replay["int_book_levels"].num_rows >= 8
    for name, table in replay.items():
        assert live[name].equals(table), name


def test_book_equals_a_naive_book_when_cut_and_restarted(tmp_path: Path) -> None:
    records = book_stream(55, 700, messy=False)
    grid = _cut_book(records, tmp_path / "wh.duckdb", [7] * 100, {10, 40, 70})["int_grid_1s"]
    want = _naive_tops(records)
    got = {(r["product_id"], r["second_s"]): (round(r["best_bid"] * 10**8), round(r["best_bid_qty"] * 10**8),
                                              round(r["best_ask"] * 10**8), round(r["best_ask_qty"] * 10**8))
           for r in grid.to_pylist() if r["best_bid"] is not None}
    assert len(want) > 100
    assert {k: got.get(k) for k in sorted(want)} == want


def _scale_l2(rec: Record, factor: float) -> Record:
    obj = json.loads(rec.frame)
    for ev in obj["events"]:
        for u in ev.get("updates", []):
            u["new_quantity"] = "0" if u["new_quantity"] == "0" else f"{float(u['new_quantity']) * factor:.4f}"
    return Record(rec.kind, rec.recv_ns, rec.conn, rec.iseq, frame=json.dumps(obj, separators=(",", ":")))


def test_no_leakage_through_the_book() -> None:
    records = book_stream(13, 1500, messy=False)
    base, _ = _one_shot(records)
    mid_ns = sorted(fx._ns(json.loads(r.frame)["timestamp"]) for r in records if r.frame)[len(records) // 2]
    t_ns = mid_ns // 10**9 * 10**9
    later = [_scale_l2(r, 1.7) if r.frame and '"l2_data"' in r.frame
             and fx._ns(json.loads(r.frame)["timestamp"]) > t_ns else r for r in records]
    moved, _ = _one_shot(later)
    t = pa.scalar(t_ns // 1000, pa.timestamp("us")).cast(base.schema.field("second_at").type)
    upto = pc.less_equal(base["second_at"], t)
    assert pc.sum(upto).as_py() > 50
    assert base.filter(upto).equals(moved.filter(pc.less_equal(moved["second_at"], t)))
    assert not base.equals(moved), "level2 sizes after t changed nothing at all: the book is not used"


def test_v4_equals_v3_without_level2_levels() -> None:
    # ticker streams (with empty l2 updates, gaps, duplicates, late frames and clocks): v4 adds nothing
    records = with_clocks(messy_stream(17, 500), 17)
    records.append(fx.l2("BTC-USD", START_NS + 10**9, seq=0))
    v3, _ = _one_shot(records, V3)
    v4, _ = _one_shot(records, V4)
    assert v4.num_rows > 100
    assert v4.drop(["sql_version"]).equals(v3.drop(["sql_version"]))


def test_replay_counts_and_reports_book_breaks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from glue.replay import replay

    path = tmp_path / "raw" / "book-0001.ndjson"
    path.parent.mkdir(parents=True)
    records = book_stream(5, 1500)
    path.write_text("".join(r.to_archive_line() + "\n" for r in records))
    with caplog.at_level("INFO"):
        table, stats = replay([str(path)], None, V4, labels_out=None)
    assert table.equals(_one_shot(records)[0])
    assert stats.book_breaks["data_gap"] > 0 and stats.book_breaks["late_frame"] > 0
    assert "level2 book breaks: bad_event" in stats.line()
    assert any("level2 book breaks this step" in r.getMessage() for r in caplog.records)
