"""SQL v2 landing (sql/models/landing/) against the Python rules it replaces, in-memory DuckDB, the real engine.

* fan-out: for records landed without a Kafka key (archives), raw_frames/raw_markers.product_key per record
  equals `glue.records.fanout_keys`, on generated frames of every shape the rule looks at and on malformed text;
* event time: raw_frames.event_ns equals `glue.protocol.timestamp_event_ns` on generated stamps;
* `Warehouse.land_archives([file])` equals `Warehouse.land(records of that file)`: raw tables and feature rows;
* `glue.replay.replay` names file:line of a malformed archive line.

Known differences between DuckDB's JSON reader and Python's `json.loads` are pinned by the explicit
`test_documented_*` tests below (as they are today), and kept out of the generators.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glue.config import FeatureSettings
from glue.errors import DataError
from glue.protocol import timestamp_event_ns
from glue.records import CONTROL_KEY, KIND_FRAME, Record, fanout_keys, read_archive
from glue.warehouse import Warehouse
from glue.warehouse import fixtures as fx
from tests.integration.featurize_support import assert_tables_bitwise_equal

V2 = FeatureSettings(sql_version="v2", lateness_s=2)
START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
MISSING = object()  # a key left out of the generated object
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def wh() -> Any:
    """One v2 warehouse for the generated landings (product keys and event times do not depend on state)."""
    with Warehouse.open(":memory:", V2) as w:
        yield w


_landings = itertools.count()


def frame(text: str, iseq: int, conn: str = "c1") -> Record:
    return Record(kind=KIND_FRAME, recv_ns=START_NS + iseq, conn=conn, iseq=iseq, frame=text)


def landed_keys(w: Warehouse, records: list[Record]) -> list[list[str]]:
    """Land `records` without coordinates (archive fan-out); per record, its product keys in land_seq order.

    The records get a connection id of their own, which finds this landing's rows in the shared warehouse.
    Records land in arrival order: the land_seq values of one record all come before the next record's.
    (Whether a fanned-out record's rows share one land_seq or take consecutive ones, products in sorted order,
    ordering by (land_seq, product_key) lists its keys sorted, as fanout_keys does.)
    """
    conn = f"fanout-{next(_landings)}"
    records = [dataclasses.replace(r, conn=conn) for r in records]
    w.land(records)
    rows = w.con.execute("""
        SELECT land_seq, iseq, product_key FROM raw_frames WHERE conn = $1
        UNION ALL
        SELECT land_seq, iseq, product_key FROM raw_markers WHERE conn = $1
        ORDER BY land_seq, product_key
    """, [conn]).fetchall()
    out: list[list[str]] = [[] for _ in records]
    for _, iseq, key in rows:
        out[iseq].append(key)
    order = [iseq for _, iseq, _ in rows]
    assert order == sorted(order), f"records did not land in arrival order (iseq by land_seq: {order})"
    return out


def landed_event_ns(w: Warehouse, stamps: list[Any]) -> list[int | None]:
    """Land one frame per stamp (as its envelope `timestamp`); raw_frames.event_ns per frame."""
    conn = f"stamps-{next(_landings)}"
    records = [frame(json.dumps({"channel": "l2_data", "timestamp": s, "sequence_num": i,
                                 "events": [{"type": "update", "product_id": "BTC-USD", "updates": []}]}), i, conn)
               for i, s in enumerate(stamps)]
    w.land(records)
    rows = w.con.execute("SELECT iseq, event_ns FROM raw_frames WHERE conn = ? ORDER BY land_seq", [conn]).fetchall()
    assert [i for i, _ in rows] == list(range(len(stamps)))
    return [ns for _, ns in rows]


# ---------------------------------------------------------------- generated frames
PRODUCTS = ("BTC-USD", "ETH-USD", "SOL-USD", "")


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, picked with the given integer weights (hypothesis' one_of does not weigh)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                   st.text(max_size=5))
product_id = weighted(
    (12, st.sampled_from(PRODUCTS)), (2, st.just(MISSING)), (1, st.none()), (1, st.integers()),
    (1, st.floats(allow_nan=False, allow_infinity=False)), (1, st.booleans()),
    (1, st.text(st.characters(exclude_categories=("Cs",)), max_size=6)),  # any text (escapes, non-ASCII, NUL)
    (1, st.lists(st.sampled_from(PRODUCTS), max_size=2)),
)


def _obj(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not MISSING}


item_obj = st.builds(lambda pid, price: _obj(product_id=pid, price=price), product_id,
                     st.one_of(st.just(MISSING), st.sampled_from(["100.5", "1e3", "x"]), st.integers(0, 10**6)))
item = weighted((6, item_obj), (1, scalar))


def item_list(inner: st.SearchStrategy) -> st.SearchStrategy:
    """A list of items, or something that is not a list (the rule ignores it), or missing."""
    return weighted((4, st.lists(inner, max_size=4)), (6, st.just(MISSING)), (1, scalar),
                    (1, st.builds(lambda x: {"0": x}, inner)))


event = weighted(
    (6, st.builds(lambda pid, et, tk, tr, ca, pr: _obj(type=et, product_id=pid, tickers=tk, trades=tr, candles=ca,
                                                       products=pr),
                  weighted((1, product_id), (2, st.just(MISSING))), st.sampled_from(["update", "snapshot", MISSING]),
                  item_list(item), item_list(item), item_list(item), item_list(item))),
    # the common shapes: one ticker / one l2 event
    (2, st.builds(lambda pid: {"type": "update", "tickers": [_obj(type="ticker", product_id=pid, price="1")]},
                  product_id)),
    (2, st.builds(lambda pid: _obj(type="update", product_id=pid, updates=[]), product_id)),
    (1, st.one_of(scalar, st.lists(scalar, max_size=2))),
)
events = weighted((8, st.lists(event, min_size=1, max_size=3)), (1, st.just([])), (1, st.just(MISSING)),
                  (1, scalar), (1, st.builds(lambda e: {"0": e}, event)))
channel = st.sampled_from(["ticker", "market_trades", "l2_data", "heartbeats", "subscriptions", "candles",
                           "unknown", MISSING, 7])
envelope = st.builds(
    lambda ch, ev, seq, ts: _obj(channel=ch, timestamp=ts, sequence_num=seq, events=ev),
    channel, events, st.integers(0, 10**6),
    # valid, missing, unparsable and non-string stamps: none of them may abort the landing
    st.sampled_from(["2026-01-01T00:00:01.5Z", "2026-01-01T00:00:02Z", "2026-01-01 00:00:03+00:00", MISSING,
                     "garbage", "", 12, None, ["2026-01-01T00:00:00Z"]]),
)


@st.composite
def frame_texts(draw: st.DrawFn) -> str:
    """A frame as text: a generated envelope (or another JSON value), or malformed text."""
    kind = draw(st.sampled_from(["envelope"] * 12 + ["value", "truncated", "truncated", "empty", "plain"]))
    if kind in ("envelope", "truncated"):
        obj = draw(envelope)
    elif kind == "value":
        obj = draw(st.one_of(scalar, st.lists(envelope, max_size=2)))
    else:
        return "" if kind == "empty" else draw(st.text(max_size=20))
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, None, 1])))
    if kind == "truncated" and len(text) > 1:
        text = text[:draw(st.integers(1, len(text) - 1))]
    return text


@st.composite
def records_batch(draw: st.DrawFn) -> list[Record]:
    out = []
    for i in range(draw(st.integers(1, 12))):
        if draw(st.integers(0, 9)) == 0:  # a marker: fanned out by its `products` list
            prods = draw(st.lists(st.sampled_from(PRODUCTS[:3]), max_size=3))
            out.append(fx.gap(prods, START_NS, START_NS + 10**9, iseq=i))
        else:
            out.append(frame(draw(frame_texts()), i))
    return out


@HYPOTHESIS
@given(batch=records_batch())
def test_sql_fanout_equals_fanout_keys(wh: Warehouse, batch: list[Record]) -> None:
    assert landed_keys(wh, batch) == [fanout_keys(r) for r in batch]


@pytest.mark.parametrize("text", [
    "", "plain text", "{", '{"channel":"ticker","events":[{"type":"update","tickers":[{"product_id":"BTC-USD"',
    "null", "[]", "[1, 2]", '"BTC-USD"', "{}", '{"events": null}', '{"events": "BTC-USD"}',
    '{"events": {"0": {"product_id": "BTC-USD"}}}', '{"events": [{"tickers": {"0": {"product_id": "BTC-USD"}}}]}',
    '{"events": [{"product_id": "BTC-USD"}]} trailing', '{"events": [{"product_id": 5}, {"product_id": null}]}',
    '{"events": [{"product_id": "\\u0042TC-USD"}]}', '{"events": [{"product_id": "\\ud83d\\ude00"}]}',
    '{"events": [{"product_id": "B"}, {"product_id": "A", "trades": [{"product_id": "C"}, {"product_id": "A"}]}]}',
])
def test_sql_fanout_edge_cases(wh: Warehouse, text: str) -> None:
    assert landed_keys(wh, [frame(text, 0)]) == [fanout_keys(frame(text, 0))]


def test_documented_duplicate_keys_duckdb_keeps_the_first(wh: Warehouse) -> None:
    """Known difference: with a duplicated object key DuckDB reads the first value, json.loads the last.

    Coinbase never sends duplicate keys; the generators above never produce them.
    """
    envelope_dup = '{"channel":"l2_data","events":[{"product_id":"BTC-USD"}],"events":[{"product_id":"ETH-USD"}]}'
    ticker_dup = '{"channel":"ticker","events":[{"tickers":[{"product_id":"BTC-USD","product_id":"ETH-USD"}]}]}'
    recs = [frame(envelope_dup, 0), frame(ticker_dup, 1)]
    assert landed_keys(wh, recs) == [["BTC-USD"], ["BTC-USD"]]
    assert [fanout_keys(r) for r in recs] == [["ETH-USD"], ["ETH-USD"]]


def test_documented_nan_and_infinity_are_read_by_both(wh: Warehouse) -> None:
    """NaN / Infinity / -Infinity (not JSON, but Python's json.loads reads them) are read by DuckDB too.

    So a frame holding them fans out the same way; the generators above never produce them.
    """
    texts = ['{"events":[{"product_id":"BTC-USD","x":NaN}]}', '{"events":[{"product_id":"BTC-USD","x":Infinity}]}',
             '{"events":[{"product_id":"BTC-USD","x":-Infinity}]}']
    recs = [frame(t, i) for i, t in enumerate(texts)]
    assert landed_keys(wh, recs) == [fanout_keys(r) for r in recs] == [["BTC-USD"]] * 3


def test_documented_json_dialect_differences(wh: Warehouse) -> None:
    """Found while writing these tests (reported to the lead; no Coinbase frame has these): DuckDB's reader accepts
    trailing commas and the spellings nan / inf / -NaN that json.loads refuses (SQL: the product, Python:
    `_control`), and refuses a lone surrogate escape that json.loads accepts (SQL: `_control`)."""
    texts = ['{"events":[{"product_id":"BTC-USD"},]}', '{"events":[{"product_id":"BTC-USD",}]}',
             '{"events":[{"product_id":"BTC-USD","x":nan}]}', '{"events":[{"product_id":"BTC-USD","x":inf}]}',
             '{"events":[{"product_id":"BTC-USD","x":-NaN}]}', '{"events":[{"product_id":"\\ud800"}]}']
    recs = [frame(t, i) for i, t in enumerate(texts)]
    assert landed_keys(wh, recs) == [["BTC-USD"]] * 5 + [[CONTROL_KEY]]
    assert [fanout_keys(r) for r in recs] == [[CONTROL_KEY]] * 5 + [["\ud800"]]


# ---------------------------------------------------------------- generated envelope timestamps
@st.composite
def rfc3339_shaped(draw: st.DrawFn) -> str:
    """A stamp of the RFC 3339 shape both parsers read, valid or not as a date (Feb 30, hour 24, second 60),
    years 1900..2200 (both sides of the 2000..2100 bounds), 0..9 fraction digits, Z / +hh:mm / -hhmm / none."""
    y = draw(weighted((1, st.integers(1900, 2200)), (2, st.integers(2000, 2099)),
                      (1, st.sampled_from([1999, 2000, 2099, 2100]))))
    mo = draw(weighted((6, st.integers(1, 12)), (1, st.sampled_from([0, 13]))))
    d = draw(weighted((6, st.integers(1, 28)), (1, st.sampled_from([0, 29, 30, 31, 32]))))
    h = draw(weighted((6, st.integers(0, 23)), (1, st.just(24))))
    mi = draw(weighted((6, st.integers(0, 59)), (1, st.just(60))))
    s = draw(weighted((6, st.integers(0, 59)), (1, st.just(60))))
    frac = draw(st.text("0123456789", max_size=9))
    zh, zm = draw(st.integers(0, 23)), draw(st.sampled_from([0, 30, 45, 59]))
    zone = draw(st.sampled_from(["Z", "", f"+{zh:02d}:{zm:02d}", f"-{zh:02d}{zm:02d}", f"-{zh:02d}:{zm:02d}",
                                 f"+{zh:02d}{zm:02d}"]))
    sep = draw(st.sampled_from(["T", " "]))
    pad = draw(st.sampled_from(["", "", " "]))  # surrounding spaces: both strip them
    return f"{pad}{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{'.' + frac if frac else ''}{zone}{pad}"


@st.composite
def edge_stamps(draw: st.DrawFn) -> str:
    """Stamps around the bounds and invalid dates: 2000-01-01 and 2100-01-01 through offsets, Feb 29/30."""
    base = draw(st.sampled_from(["1999-12-31T23:59:59", "2000-01-01T00:00:00", "2099-12-31T23:59:59",
                                 "2100-01-01T00:00:00", "2024-02-29T12:00:00", "2023-02-29T12:00:00",
                                 "2026-02-30T00:00:00", "2026-01-01T24:00:00", "2026-12-31T23:59:60"]))
    frac = draw(st.sampled_from(["", ".5", ".999999999", ".000000001", ".123"]))
    zone = draw(st.sampled_from(["Z", "", "+00:00", "+01:00", "-01:00", "-0030", "+2359"]))
    return base + frac + zone


@HYPOTHESIS
@given(stamps=st.lists(st.one_of(rfc3339_shaped(), edge_stamps()), min_size=1, max_size=30))
def test_sql_event_time_equals_timestamp_event_ns(wh: Warehouse, stamps: list[str]) -> None:
    assert landed_event_ns(wh, stamps) == [timestamp_event_ns(s) for s in stamps]


def test_event_time_of_non_string_stamps_is_null(wh: Warehouse) -> None:
    stamps = [None, 1767225600, 1.5, True, ["2026-01-01T00:00:00Z"], {"t": "2026-01-01T00:00:00Z"}]
    assert landed_event_ns(wh, stamps) == [None] * len(stamps)


GARBAGE = ["", "garbage", "2026-01-01", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567890Z",
           "2026-01-01t00:00:00Z", "2026-01-01T00:00:00z", "2026-01-01T00:00:00+01", "-001-01-01T00:00:00Z",
           "2026-1-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]


@HYPOTHESIS
@given(stamps=st.lists(st.one_of(
    st.sampled_from(GARBAGE),
    st.text("0123456789-:.TZ +", max_size=32),  # stamp-like ASCII garbage
    rfc3339_shaped().flatmap(lambda s: st.integers(0, len(s)).map(lambda k: s[:k])),  # truncated stamps
), min_size=1, max_size=30).map(lambda xs: [*xs, "garbage"]))
def test_sql_event_time_of_garbage_equals_timestamp_event_ns(wh: Warehouse, stamps: list[str]) -> None:
    assert landed_event_ns(wh, stamps) == [timestamp_event_ns(s) for s in stamps]


# ---------------------------------------------------------------- land_archives == land(records)
def write_market_archive(path: Path, duration_s: float = 240.0, seed: int = 11,
                         products: tuple[str, ...] = ("BTC-USD", "ETH-USD")) -> int:
    """An archive file as `glue ingest` writes it: the simulator's frames on every channel (tickers, trades,
    l2_data, heartbeats, acks) with receipt times a few ms after the event, plus two data_gap markers
    (one product, both products) in the middle. Returns the number of lines."""
    import random

    from glue.exchange import simulate_frames

    rng = random.Random(seed)
    frames = list(simulate_frames(list(products), seed=seed, start_ns=START_NS, duration_s=duration_s, book_levels=5))
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w") as fh:
        for i, (ns, text) in enumerate(frames):
            if i in (len(frames) // 3, 2 * len(frames) // 3):
                prods = list(products[:1]) if i < len(frames) // 2 else list(products)
                fh.write(fx.gap(prods, ns - 5 * 10**9, ns, iseq=n, conn="sim-1").to_archive_line() + "\n")
                n += 1
            rec = Record(kind=KIND_FRAME, recv_ns=ns + rng.randint(100_000, 3_000_000), conn="sim-1", iseq=n,
                         frame=text)
            fh.write(rec.to_archive_line() + "\n")
            n += 1
    return n


def _raw_tables(w: Warehouse) -> dict[str, Any]:
    con = w.con
    return {
        "raw_frames": con.sql("SELECT * EXCLUDE (topic, kafka_partition, kafka_offset) FROM raw_frames "
                              "ORDER BY land_seq").to_arrow_table(),
        "raw_ticker_items": con.sql("SELECT * FROM raw_ticker_items ORDER BY land_seq, event_idx, ticker_idx")
        .to_arrow_table(),
        "raw_trade_items": con.sql("SELECT * FROM raw_trade_items ORDER BY land_seq, event_idx, trade_idx")
        .to_arrow_table(),
        "raw_markers": con.sql("SELECT land_seq, product_key, kind, recv_ns, conn, iseq, marker_type, arrival_wm_ns "
                               "FROM raw_markers ORDER BY land_seq").to_arrow_table(),
    }


def test_land_archives_equals_land_records(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "sim-0001.ndjson"
    n = write_market_archive(path)
    records = list(read_archive([str(path)]))
    assert len(records) == n
    with Warehouse.open(":memory:", V2) as by_file, Warehouse.open(":memory:", V2) as by_records:
        assert by_file.land_archives([str(path)]).frames == by_records.land(records).frames
        by_file.finalize()
        by_records.finalize()
        a, b = _raw_tables(by_file), _raw_tables(by_records)
        for name in a:
            assert a[name].num_rows > 0, name
            assert a[name].equals(b[name]), f"{name} differs between land_archives and land(records)"
        # the marker payload is JSON text written by two writers: equal as JSON
        pa_, pb = (w.con.sql("SELECT payload FROM raw_markers ORDER BY land_seq").fetchall() for w in (by_file,
                                                                                                      by_records))
        assert [json.loads(x) for (x,) in pa_] == [json.loads(x) for (x,) in pb]
        channels = dict(by_file.con.sql("SELECT channel, count(*) FROM raw_frames GROUP BY 1").fetchall())
        assert {"ticker", "market_trades", "l2_data", "heartbeats"} <= set(channels), channels
        assert by_file.con.sql("SELECT count(DISTINCT product_key) FROM raw_markers").fetchall()[0][0] == 2
        fa, fb = by_file.features(), by_records.features()
        assert fa.num_rows > 300
        assert_tables_bitwise_equal(fa, fb)


@pytest.mark.parametrize("bad", ["this is not json", '{"v": 1, "kind": "frame", "conn": "x"}',
                                 '{"v": 2, "kind": "frame", "recv_ns": 1, "conn": "x", "iseq": 1, "frame": "{}"}'])
def test_replay_names_file_and_line_of_a_malformed_line(tmp_path: Path, bad: str) -> None:
    from glue.replay import replay

    path = tmp_path / "raw" / "sim-0001.ndjson"
    write_market_archive(path, duration_s=20)
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(41, bad + "\n")  # line 42
    path.write_text("".join(lines))
    with pytest.raises(DataError) as err:
        replay([str(path)], None, V2)
    assert f"{path}:42" in str(err.value)


def test_sql_event_time_strips_what_python_strips(wh: Warehouse) -> None:
    # the reference parser strips Unicode whitespace (str.strip) before matching; the SQL rule does too
    stamps = ["\t2026-01-01T00:00:01.5Z\n", " 2026-01-01T00:00:02Z\u2028", "\u30002026-01-01 00:00:03+01:00\x1c",
              "\x0b2026-01-01T00:00:04.25-0030 "]
    assert landed_event_ns(wh, stamps) == [timestamp_event_ns(s) for s in stamps]
    assert None not in landed_event_ns(wh, stamps)


def test_replay_in_steps_of_several_files_equals_file_by_file(tmp_path: Path, monkeypatch: Any) -> None:
    """Replay lands groups of files per step (`glue.replay.file_steps`); any grouping gives the same rows."""
    import glue.replay
    from glue.replay import file_steps, replay

    whole = tmp_path / "whole.ndjson"
    write_market_archive(whole, duration_s=120.0, seed=5)
    lines = whole.read_text().splitlines(keepends=True)
    paths = []
    for i in range(7):  # the same stream cut into 7 rotated files
        part = tmp_path / "raw" / f"run-{i:04d}.ndjson"
        part.parent.mkdir(exist_ok=True)
        part.write_text("".join(lines[i * len(lines) // 7:(i + 1) * len(lines) // 7]))
        paths.append(str(part))
    assert file_steps(paths) == [paths]  # small files: one step
    assert file_steps(paths, 1) == [[p] for p in paths]  # each file bigger than the step: one step each
    together, _ = replay(paths, None, FeatureSettings())
    monkeypatch.setattr(glue.replay, "STEP_BYTES", 1)
    one_by_one, _ = replay(paths, None, FeatureSettings())
    assert together.num_rows > 0
    assert together.equals(one_by_one)
