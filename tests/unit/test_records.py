"""Record encodings, the fan-out rule and exact timestamp parsing."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glue.records import (
    CONTROL_KEY,
    KIND_FRAME,
    KIND_MARKER,
    Record,
    fanout_keys,
    format_rfc3339_ns,
    parse_rfc3339_ns,
)

TICKER = (
    '{"channel": "ticker", "timestamp": "2026-04-04T21:13:43.291084825Z", "sequence_num": 0, "events": '
    '[{"type": "snapshot", "tickers": [{"type": "ticker", "product_id": "BTC-USD", "price": "67223.5"}]}]}'
)


def test_frame_round_trips_unchanged_through_archive_and_kafka():
    rec = Record(KIND_FRAME, 1_775_337_223_291_084_825, "run-1", 17, frame=TICKER)
    again = Record.from_archive_line(rec.to_archive_line())
    assert again == rec and again.frame == TICKER
    via_kafka = Record.from_kafka(rec.kafka_value(), rec.kafka_headers(seq=0))
    assert via_kafka.frame == TICKER and via_kafka.recv_ns == rec.recv_ns and via_kafka.iseq == 17


def test_marker_round_trip_and_keys():
    marker = {"type": "data_gap", "reason": "seq_gap", "products": ["ETH-USD", "BTC-USD"], "from_ns": 1, "to_ns": 5}
    rec = Record(KIND_MARKER, 5, "run-1", 3, marker=marker)
    assert Record.from_archive_line(rec.to_archive_line()) == rec
    assert Record.from_kafka(rec.kafka_value(), rec.kafka_headers(None)).marker == marker
    assert fanout_keys(rec) == ["BTC-USD", "ETH-USD"]


@pytest.mark.parametrize(
    ("frame", "keys"),
    [
        (TICKER, ["BTC-USD"]),
        ('{"channel":"heartbeats","events":[{"heartbeat_counter":1}]}', [CONTROL_KEY]),
        ('{"channel":"l2_data","events":[{"type":"update","product_id":"ETH-USD","updates":[]}]}', ["ETH-USD"]),
        ('{"channel":"market_trades","events":[{"trades":[{"product_id":"B"},{"product_id":"A"}]}]}', ["A", "B"]),
        ("{not json", [CONTROL_KEY]),
        ('{"type":"error","message":"authentication failure"}', [CONTROL_KEY]),
        ('{"channel":"ticker","events":true}', [CONTROL_KEY]),
        ('{"channel":"ticker","events":[{"tickers":"x","trades":7,"product_id":3}]}', [CONTROL_KEY]),
        ("[1, 2]", [CONTROL_KEY]),
    ],
)
def test_fanout_keys(frame, keys):
    assert fanout_keys(Record(KIND_FRAME, 0, "c", 0, frame=frame)) == keys


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-04-04T21:13:43.291084825Z", 1_775_337_223_291_084_825),
        ("2026-04-04T21:13:43.52889452Z", 1_775_337_223_528_894_520),
        ("2026-04-04T21:13:43Z", 1_775_337_223_000_000_000),
        ("2026-04-04T23:13:43.5+02:00", 1_775_337_223_500_000_000),
        ("2026-04-04T21:13:43.5", 1_775_337_223_500_000_000),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_parse_rfc3339_exact(text, ns):
    assert parse_rfc3339_ns(text) == ns


def test_parse_rejects_garbage():
    with pytest.raises(ValueError):
        parse_rfc3339_ns("yesterday")


@given(st.integers(min_value=0, max_value=4_000_000_000 * 10**9))
def test_format_then_parse_is_identity(ns):
    text = format_rfc3339_ns(ns)
    assert text.endswith("Z") and not re.search(r"\.\d*0Z$", text)
    assert parse_rfc3339_ns(text) == ns


def test_archive_line_is_compact_json():
    line = Record(KIND_FRAME, 1, "c", 2, frame="{}").to_archive_line()
    assert "\n" not in line and json.loads(line)["v"] == 1
