"""Unit tests for the importer's line conversion (no files)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from glue.importer import _Converter, _Skip, parse_mapping
from glue.records import parse_rfc3339_ns


def conv(line, tz=None, mapping=None, next_seq=0):
    return _Converter(tz, mapping or {}).convert(line if isinstance(line, str) else json.dumps(line), next_seq)


def ticker_of(c):
    return json.loads(c.frame)["events"][0]["tickers"][0]


def test_raw_line_kept_byte_for_byte():
    line = '{"channel": "ticker", "timestamp": "2026-04-04T21:13:43.291084825Z", "sequence_num": 0, "events": []}'
    c = conv(line)
    assert c.frame == line and c.fmt == "raw" and c.recv_ns == parse_rfc3339_ns("2026-04-04T21:13:43.291084825Z")


def test_wrapped_uses_ingest_time_as_receipt():
    c = conv({"ingest_time": "2026-04-05T22:35:13.865365+00:00", "payload": {
        "channel": "ticker", "timestamp": "2026-04-05T22:35:13.92532762Z", "sequence_num": 0, "events": []}})
    assert c.fmt == "wrapped" and c.recv_ns == parse_rfc3339_ns("2026-04-05T22:35:13.865365Z")
    assert json.loads(c.frame)["sequence_num"] == 0


def test_flattened_with_exchange_time_and_sequence():
    c = conv({"product_id": "BTC-USD", "price": "66853.91", "best_bid_qty": "1.2", "volume_24h": "3688.8",
              "ws_timestamp": "2026-04-04T03:19:18.799968001Z", "sequence_num": 7, "event_type": "snapshot",
              "received_at": "2026-04-04T03:19:18.802320+00:00"})
    env = json.loads(c.frame)
    assert env["timestamp"] == "2026-04-04T03:19:18.799968001Z" and env["sequence_num"] == 7
    assert env["events"][0]["type"] == "snapshot"
    assert ticker_of(c) == {"type": "ticker", "product_id": "BTC-USD", "price": "66853.91", "volume_24_h": "3688.8",
                            "best_bid_quantity": "1.2"}
    assert c.extra == {"src": "import:flattened"}


def test_flattened_floats_keep_source_text_and_receive_time_becomes_timestamp():
    c = conv('{"ts": "2026-04-03T22:13:41.421126+00:00", "product_id": "BTC-USD", "price": 66863.0, '
             '"best_bid": 0.1, "volume_24h": 0.0}', next_seq=5)
    t = ticker_of(c)
    assert (t["price"], t["best_bid"], t["volume_24_h"]) == ("66863.0", "0.1", "0.0")
    env = json.loads(c.frame)
    assert env["timestamp"] == "2026-04-03T22:13:41.421126Z" and env["sequence_num"] == 5  # synthesized


def test_naive_timestamps_are_utc_unless_assume_tz():
    row = {"timestamp": "2025-11-30T23:56:11.637517", "product_id": "BTC-USD", "price": "1"}
    assert conv(row).recv_ns == parse_rfc3339_ns("2025-11-30T23:56:11.637517Z")
    east = conv(row, tz=ZoneInfo("America/New_York"))
    assert east.recv_ns == parse_rfc3339_ns("2025-12-01T04:56:11.637517Z")


def test_full_ticker_under_raw_is_used():
    raw = {"type": "ticker", "product_id": "BTC-USD", "price": "85748", "best_bid_quantity": "0.00003711"}
    c = conv({"timestamp": "2025-11-30T23:56:11.637517", "product_id": "BTC-USD", "price": "85748", "raw": raw})
    assert ticker_of(c) == raw


def test_legacy_ticker_converted_and_extras_kept():
    legacy = {"type": "ticker", "sequence": 1, "product_id": "BTC-USD", "price": "103472.28", "best_bid_size": "0.04",
              "volume_24h": "5461.7", "time": "2025-11-12T07:20:11.615272Z", "trade_id": 9, "last_size": "0.1",
              "side": "buy"}
    c = conv({"ts": 1762932011.609013, "pair": "BTC-USD", "raw": json.dumps(legacy)})
    t = ticker_of(c)
    assert t["best_bid_quantity"] == "0.04" and t["volume_24_h"] == "5461.7"
    assert json.loads(c.frame)["timestamp"] == "2025-11-12T07:20:11.615272Z"
    assert c.recv_ns == 1762932011609013000  # exact, from the number's text
    assert c.extra["legacy"]["trade_id"] == 9 and c.extra["src"] == "import:legacy"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{oops", "malformed_json"),
        ('{"ts":1,"raw":"{\\"type\\":\\"subscriptions\\",\\"channels\\":[]}"}', "legacy_subscriptions_not_converted"),
        ('{"price": "1", "ts": "2026-01-01T00:00:00Z"}', "no_product_id"),
        ('{"product_id": "BTC-USD", "ts": "2026-01-01T00:00:00Z"}', "no_price"),
        ('{"product_id": "BTC-USD", "price": "1"}', "no_timestamp"),
    ],
)
def test_unconvertible_lines_are_reported(line, reason):
    with pytest.raises(_Skip) as info:
        conv(line)
    assert info.value.reason == reason


def test_map_option_reads_other_field_names():
    mapping = parse_mapping(["price=last_px", "exchange_time=exch_ts"])
    c = conv({"product_id": "ETH-USD", "last_px": "2050.1", "exch_ts": "2026-01-01T00:00:01.5Z"}, mapping=mapping)
    assert ticker_of(c)["price"] == "2050.1" and json.loads(c.frame)["timestamp"] == "2026-01-01T00:00:01.5Z"


def _flat(t: str, price: float = 100.0) -> str:
    # a flattened ticker with the recorder's receipt time only: deduplicated by content within a window
    return json.dumps({"ts": f"2026-04-03T22:13:{t}+00:00", "product_id": "BTC-USD", "price": price})


def test_an_unchanged_ticker_repeated_across_a_file_cut_is_kept_but_overlapping_copies_are_removed(tmp_path):
    from glue.importer import import_captures

    whole = [_flat("41.0"), _flat("41.5"), _flat("42.0"), _flat("42.5")]  # the same content 4 times
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.ndjson").write_text("\n".join(whole) + "\n")
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "a.ndjson").write_text("\n".join(whole[:2]) + "\n")  # a recorder's 1 s files, one after the other
    (cut / "b.ndjson").write_text("\n".join(whole[2:]) + "\n")
    overlap = tmp_path / "overlap"
    overlap.mkdir()
    (overlap / "a.ndjson").write_text("\n".join(whole[:3]) + "\n")
    (overlap / "b.ndjson").write_text("\n".join([_flat("41.6"), _flat("42.6")]) + "\n")  # a second recorder
    one = import_captures([str(tmp_path / "one")], str(tmp_path / "o1"))
    two = import_captures([str(cut)], str(tmp_path / "o2"))
    both = import_captures([str(overlap)], str(tmp_path / "o3"))
    assert (one.frames_out, one.duplicates) == (4, 0)
    assert (two.frames_out, two.duplicates) == (4, 0)  # was (2, 2): the cut made copies of the later two
    assert (both.frames_out, both.duplicates) == (3, 2)  # b overlaps a: its two copies are removed
