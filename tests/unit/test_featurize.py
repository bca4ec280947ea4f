"""Unit tests (no I/O) of glue.featurize: row JSON, part names, the Kafka export check, decoding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pytest

from glue.errors import GlueError
from glue.featurize import BadRecord, CrashHook, Exporter, decode, feature_messages, instance_id, part_name
from glue.records import KIND_FRAME, Record


def test_feature_messages_json_shape_exact_floats_and_null_for_nan():
    table = pa.table({
        "product_id": ["BTC-USD", "ETH-USD"],
        "second_at": pa.array([datetime(2026, 1, 1, 0, 0, 1), datetime(2026, 1, 1, 0, 0, 2)], pa.timestamp("us")),
        "sql_version": ["v1", "v1"],
        "rv_60s_bps": [0.1 + 0.2, float("nan")],
        "trades_30s": [3, None],
        "has_gap_60s": [False, True],
    })
    msgs = feature_messages(table, emitted_at_ns=123)
    assert [k for k, _ in msgs] == [b"BTC-USD", b"ETH-USD"]
    first, second = (json.loads(v) for _, v in msgs)
    assert first == {"product_id": "BTC-USD", "second_at": "2026-01-01T00:00:01Z", "sql_version": "v1",
                     "rv_60s_bps": 0.30000000000000004, "trades_30s": 3, "has_gap_60s": False, "emitted_at": 123}
    assert second["rv_60s_bps"] is None and second["trades_30s"] is None and second["has_gap_60s"] is True


@dataclass
class _Batch:
    batch_id: int = 1
    first_partition: int = 3
    first_offset: int = 42
    next_offsets: dict | None = None


def test_part_name_is_fixed_by_the_batch():
    assert part_name(_Batch()) == "part-003-000000000042.parquet"


def test_a_batch_is_in_kafka_only_when_every_committed_offset_covers_it():
    batch = _Batch(next_offsets={0: 10, 1: 5})
    assert Exporter._already_in_kafka(batch, {0: 10, 1: 5})
    assert Exporter._already_in_kafka(batch, {0: 12, 1: 7})  # a later batch committed too
    assert not Exporter._already_in_kafka(batch, {0: 10, 1: 4})
    assert not Exporter._already_in_kafka(batch, {0: 10})
    assert not Exporter._already_in_kafka(batch, {})


def test_crash_hook_spec():
    assert CrashHook("").point == ""
    hook = CrashHook("parquet:3")
    assert (hook.point, hook.left) == ("parquet", 3)
    hook("parquet")
    hook("kafka")
    assert hook.left == 2
    with pytest.raises(GlueError):
        CrashHook("nowhere:1")


def test_instance_id_is_stable_per_group_and_warehouse(tmp_path):
    a = instance_id("g", tmp_path / "a.duckdb")
    assert a == instance_id("g", tmp_path / "a.duckdb")
    assert a != instance_id("g", tmp_path / "b.duckdb") and a != instance_id("h", tmp_path / "a.duckdb")


class _Msg:
    def __init__(self, value, headers):
        self._value, self._headers = value, headers

    def value(self):
        return self._value

    def headers(self):
        return self._headers


def test_decode_round_trip_and_reasons():
    rec = Record(kind=KIND_FRAME, recv_ns=5, conn="c", iseq=1, frame='{"channel":"ticker"}')
    assert decode(_Msg(rec.kafka_value(), rec.kafka_headers(7))) == rec
    with pytest.raises(BadRecord, match=r"missing header glue\.kind"):
        decode(_Msg(b"x", None))
    with pytest.raises(BadRecord, match="empty value"):
        decode(_Msg(None, rec.kafka_headers(7)))
    bad_marker = [(k, v) for k, v in rec.kafka_headers(7) if k != "glue.kind"] + [("glue.kind", b"marker")]
    with pytest.raises(BadRecord, match="undecodable"):
        decode(_Msg(b"{not json", bad_marker))
