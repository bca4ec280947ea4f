"""SQL v3 landing (the .v3 landing variants): the rules of v2's landing, checked the same way, and the raw rows of v2.

* The generated fan-out and event-time tests of tests/sql/test_landing_v2.py run again here on a v3 warehouse
  (imported below: the `wh` fixture of this module gives them v3).
* Raw rows: v3 lands exactly the raw_frames / raw_markers / raw_ticker_items / raw_trade_items rows of v2 (and the
  same ctl_products state and landing counts), on generated batches of every frame shape (landed through
  `Warehouse.land`, so inside the landing transaction: rowids of an open transaction), on edge frames (a JSON-null
  2nd event or ticker followed by a real one, product ids of every JSON type and spelling) and on archive files
  landed in several steps (land_seq continues across landings).
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from glue.config import FeatureSettings
from glue.records import read_archive
from glue.warehouse import Warehouse
from tests.sql.test_landing_v2 import (  # noqa: F401  (re-run here against v3 through this module's `wh`)
    HYPOTHESIS,
    frame,
    records_batch,
    test_documented_duplicate_keys_duckdb_keeps_the_first,
    test_documented_json_dialect_differences,
    test_documented_nan_and_infinity_are_read_by_both,
    test_event_time_of_non_string_stamps_is_null,
    test_sql_event_time_equals_timestamp_event_ns,
    test_sql_event_time_of_garbage_equals_timestamp_event_ns,
    test_sql_event_time_strips_what_python_strips,
    test_sql_fanout_edge_cases,
    test_sql_fanout_equals_fanout_keys,
    write_market_archive,
)

V2 = FeatureSettings(sql_version="v2", lateness_s=2)
V3 = FeatureSettings(sql_version="v3", lateness_s=2)


@pytest.fixture(scope="module")
def wh() -> Any:
    """One v3 warehouse for the generated landings (product keys and event times do not depend on state)."""
    with Warehouse.open(":memory:", V3) as w:
        yield w


@pytest.fixture(scope="module")
def pair() -> Any:
    """A v2 and a v3 warehouse that get the same landings, in the same order."""
    with Warehouse.open(":memory:", V2) as a, Warehouse.open(":memory:", V3) as b:
        yield a, b


_landings = itertools.count()

# land_seq counted from the landing's first one ($1), so one failed example does not hide the next ones
RAW = {
    "raw_frames": "SELECT * REPLACE (land_seq - $1 AS land_seq) FROM raw_frames WHERE land_seq >= $1 "
                  "ORDER BY land_seq, product_key",
    "raw_markers": "SELECT * REPLACE (land_seq - $1 AS land_seq) FROM raw_markers WHERE land_seq >= $1 "
                   "ORDER BY land_seq, product_key",
    "raw_ticker_items": "SELECT * REPLACE (land_seq - $1 AS land_seq) FROM raw_ticker_items WHERE land_seq >= $1 "
                        "ORDER BY land_seq, event_idx, ticker_idx",
    "raw_trade_items": "SELECT * REPLACE (land_seq - $1 AS land_seq) FROM raw_trade_items WHERE land_seq >= $1 "
                       "ORDER BY land_seq, event_idx, trade_idx",
}


def raw_rows(w: Warehouse, since: int) -> dict[str, list[tuple]]:
    return {name: w.con.execute(sql, [since]).fetchall() for name, sql in RAW.items()}


def assert_same_landing(pair: Any, records: list[Any]) -> None:
    v2, v3 = pair
    conn = f"pair-{next(_landings)}"
    records = [dataclasses.replace(r, conn=conn) for r in records]
    since2, since3 = v2.next_land_seq, v3.next_land_seq
    s2, s3 = v2.land(records), v3.land(records)
    a, b = raw_rows(v2, since2), raw_rows(v3, since3)
    for name in RAW:
        diff = [(x, y) for x, y in zip(a[name], b[name], strict=False) if x != y][:3]
        assert a[name] == b[name], f"{name}: {diff!r}"
    assert s2 == s3
    assert v2.next_land_seq - since2 == v3.next_land_seq - since3
    assert v2.con.sql("SELECT * FROM ctl_products ORDER BY 1").fetchall() == \
        v3.con.sql("SELECT * FROM ctl_products ORDER BY 1").fetchall()


@HYPOTHESIS
@given(batch=records_batch())
def test_generated_batches_land_v2_rows(pair: Any, batch: list[Any]) -> None:
    assert_same_landing(pair, batch)


T = '{"channel":"ticker","timestamp":"2026-01-01T00:00:0%dZ","sequence_num":%d,"events":%s}'
EDGE_EVENTS = [
    # a JSON-null 2nd event / 2nd ticker, alone or followed by a real one (the one-ticker path must not take them)
    '[{"type":"update","tickers":[{"product_id":"BTC-USD","price":"1.5","best_bid":"1","best_ask":"2"}]},null]',
    '[{"type":"update","tickers":[{"product_id":"BTC-USD","price":"1.5","best_bid":"1","best_ask":"2"},null]}]',
    '[{"type":"update","product_id":"ETH-USD","tickers":[{"product_id":"BTC-USD","price":"7"},null]},null]',
    '[{"type":"update","tickers":[{"product_id":"BTC-USD","price":"1"},{"product_id":"BTC-USD","price":"2"}]}]',
    '[{"type":"update","tickers":[{"product_id":"BTC-USD","price":"1"}]},null,{"type":"update","product_id":"X"}]',
    '[{"type":"update","tickers":[{"product_id":"BTC-USD","price":"1"},null,{"product_id":"ETH-USD","price":"2"}]}]',
    # product ids: strings starting with I / N / lower case / digits, numbers, literals, escapes, objects
    '[{"type":"update","tickers":[{"product_id":"IOTA-USD","price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":"NEAR-USD","price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":"Infinity","price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":"NaN","price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":NaN,"price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":Infinity,"price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":-Infinity,"price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":"1INCH-USD","price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":"btc-usd","price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":12,"price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":true,"price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":["BTC-USD"],"price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":{"a":"BTC-USD"},"price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":"\\u0042TC-USD","price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":"\\u0049OTA-USD","price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":"","price":"3"}]}]',
    '[{"type":"update","tickers":[{"product_id":null,"price":"3"}]}]',
    '[{"type":"update","product_id":"IOTA-USD","tickers":[{"product_id":"NEAR-USD","price":"3"}]}]',
    '[{"type":"update","product_id":NaN,"tickers":[{"product_id":"BTC-USD","price":"3"}]}]',
    '[{"type":"update","product_id":5,"tickers":[{"product_id":"BTC-USD","price":"3"}]}]',
    '[{"type":"update","product_id":"BTC-USD","tickers":[{"product_id":"BTC-USD","price":"3"}]}]',
    '[{"type":"update","product_id":"Zeta","tickers":[]}]',
]


def test_edge_frames_land_v2_rows(pair: Any) -> None:
    records = [frame(T % (i % 10, i, ev), i) for i, ev in enumerate(EDGE_EVENTS)]
    assert_same_landing(pair, records)
    for rec in records:  # one per landing too (the first row of a landing)
        assert_same_landing(pair, [dataclasses.replace(rec, iseq=0)])


def test_archive_steps_land_v2_rows(tmp_path: Path) -> None:
    """land_archives in 5 steps (each its own transaction) and land(records) in chunks: v2's raw rows and state."""
    path = tmp_path / "sim-0001.ndjson"
    write_market_archive(path, duration_s=240.0, seed=3, products=("BTC-USD", "ETH-USD", "SOL-USD"))
    lines = path.read_text().splitlines(keepends=True)
    parts = []
    for i in range(5):
        part = tmp_path / f"part-{i}.ndjson"
        part.write_text("".join(lines[i * len(lines) // 5:(i + 1) * len(lines) // 5]))
        parts.append(str(part))
    records = list(read_archive([str(path)]))
    with (Warehouse.open(":memory:", V2) as a, Warehouse.open(":memory:", V3) as b,
          Warehouse.open(":memory:", V3) as c):
        for p in parts:
            assert a.land_archives([p]) == b.land_archives([p])
            a.finalize()
            b.finalize()
        for i in range(0, len(records), 997):
            c.land(records[i:i + 997])
            c.finalize()
        ra, rb, rc = raw_rows(a, 0), raw_rows(b, 0), raw_rows(c, 0)
        for name in RAW:
            assert ra[name], name
            assert ra[name] == rb[name], name
            # land(records) has no Kafka coordinates either; the marker payload is re-serialised by Python
            if name != "raw_markers":
                assert ra[name] == rc[name], name
        state = "SELECT product_id, max_event_ns, min_accepted_event_ns FROM ctl_products ORDER BY 1"
        assert a.con.sql(state).fetchall() == b.con.sql(state).fetchall() == c.con.sql(state).fetchall()
        assert a.con.sql("SELECT max(land_seq) FROM raw_frames").fetchall() == \
            b.con.sql("SELECT max(land_seq) FROM raw_frames").fetchall()


def test_clock_markers_move_only_the_event_time_and_only_when_well_formed() -> None:
    """A clock marker's at_ns (an integer of ns in [2000, 2100)) counts as an event time of each of its products;
    a clock without a usable at_ns lands (raw_markers) and moves nothing; no clock starts a product's grid."""
    from glue.records import KIND_MARKER, Record

    def clock(i: int, products: list[str], **fields: Any) -> Record:
        return Record(KIND_MARKER, 0, "c1", i, marker={"type": "clock", "products": products, **fields})

    t0 = 1_767_225_600 * 10**9
    bad = [clock(1, ["BTC-USD"], at_ns="soon"), clock(2, ["BTC-USD"], at_ns=10**30), clock(3, ["BTC-USD"]),
           clock(4, ["BTC-USD"], at_ns=5), clock(5, ["BTC-USD"], at_ns=None), clock(7, ["BTC-USD"], at_ns=[1])]
    with Warehouse.open(":memory:", V3) as w:
        w.land([*bad, clock(6, ["ETH-USD"], at_ns=t0 + 9 * 10**9)])
        state = w.con.execute("SELECT product_id, max_event_ns, min_accepted_event_ns, last_final_s "
                              "FROM ctl_products ORDER BY 1").fetchall()
        assert state == [("ETH-USD", t0 + 9 * 10**9, None, None)]
        assert w.con.execute("SELECT count(*) FROM raw_markers").fetchall()[0][0] == 7
        assert w.finalize().num_rows == 0
