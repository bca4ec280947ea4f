"""`glue check` against the real broker: good, missing, too small and broken topics."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from glue.check import check_topic, read_topic
from glue.config import KafkaSettings
from glue.errors import CheckFailed
from glue.kafka import DeliveryCounter, ensure_topics, producer_config
from glue.records import KIND_FRAME, KIND_MARKER, Record, fanout_keys, format_rfc3339_ns

pytestmark = pytest.mark.kafka

T0_NS = 1_790_000_000_000_000_000


def _envelope(channel: str, seq: int, events: list) -> dict:
    return {"channel": channel, "timestamp": format_rfc3339_ns(T0_NS + seq * 250_000_000),
            "sequence_num": seq, "events": events}


def _ticker(product: str, price: str) -> dict:
    return {"type": "update", "tickers": [{"type": "ticker", "product_id": product, "price": price,
                                           "best_bid": price, "best_ask": price, "best_bid_quantity": "1",
                                           "best_ask_quantity": "2", "volume_24_h": "10"}]}


def _message(seq: int) -> dict:
    """A varied, valid stream: heartbeats, tickers for two products, level2 and trades."""
    kind = seq % 5
    if kind == 0:
        return _envelope("heartbeats", seq, [{"current_time": "2026-09-30 02:39:56.1 +0000 UTC",
                                              "heartbeat_counter": 1000 + seq}])
    if kind == 1:
        return _envelope("ticker", seq, [_ticker("BTC-USD", f"{60000 + seq}.5")])
    if kind == 2:
        return _envelope("ticker", seq, [_ticker("ETH-USD", f"{2000 + seq}.25")])
    if kind == 3:
        return _envelope("l2_data", seq, [{"type": "update", "product_id": "BTC-USD", "updates": [
            {"side": "bid", "event_time": "2026-09-30T02:39:53.781Z", "price_level": "60000.1",
             "new_quantity": "0.5"}]}])
    return _envelope("market_trades", seq, [{"type": "update", "trades": [
        {"trade_id": str(seq), "product_id": "BTC-USD", "price": "60000", "size": "0.1", "side": "BUY",
         "time": "2026-09-30T02:39:53.1Z"},
        {"trade_id": str(seq), "product_id": "ETH-USD", "price": "2000", "size": "1", "side": "SELL",
         "time": "2026-09-30T02:39:53.1Z"}]}])


class _Stream:
    """Builds Records the way ingest does: one conn, increasing iseq."""

    def __init__(self, conn: str = "c1") -> None:
        self.conn = conn
        self.iseq = 0
        self.records: list[tuple[Record, int | None]] = []

    def frame(self, text: str, seq: int | None) -> None:
        self.iseq += 1
        self.records.append((Record(KIND_FRAME, T0_NS + self.iseq, self.conn, self.iseq, frame=text), seq))

    def message(self, obj: dict) -> None:
        self.frame(json.dumps(obj, separators=(",", ":")), obj.get("sequence_num"))

    def marker(self, marker: dict) -> None:
        self.iseq += 1
        self.records.append((Record(KIND_MARKER, T0_NS + self.iseq, self.conn, self.iseq, marker=marker), None))


def _produce(bootstrap: str, topic: str, stream: _Stream) -> None:
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    counter = DeliveryCounter()
    from confluent_kafka import Producer

    producer = Producer(producer_config(settings, on_delivery=counter, linger_ms=5))
    for record, seq in stream.records:
        for key in fanout_keys(record):
            producer.produce(topic, value=record.kafka_value(), key=key.encode(), headers=record.kafka_headers(seq))
    assert producer.flush(30) == 0
    assert counter.failed == 0


def _topic(bootstrap: str, unique_name, partitions: int = 3) -> tuple[KafkaSettings, str]:
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    topic = unique_name("check")
    ensure_topics(settings, {topic: partitions})
    return settings, topic


def test_good_topic_passes_with_counts(kafka_bootstrap, unique_name):
    settings, topic = _topic(kafka_bootstrap, unique_name)
    stream = _Stream()
    stream.marker({"type": "connect", "products": [], "detail": {"url": "ws://x"}})
    for seq in range(150):
        stream.message(_message(seq))
    _produce(kafka_bootstrap, topic, stream)

    lines: list[str] = []
    report = check_topic(settings, topic, 100, strict=True, emit=lines.append)
    assert report.frames == 150 and report.valid == 150
    assert report.records == 150 + 30 + 1  # 30 market_trades frames fan out to two keys; 1 marker
    assert report.by_channel == {"heartbeats": 30, "ticker": 60, "l2_data": 30, "market_trades": 30}
    assert report.by_product == {"BTC-USD": 90, "ETH-USD": 60}
    assert report.markers == {"connect": 1}
    assert (report.seq_gaps, report.duplicates, report.out_of_order, report.redelivered) == (0, 0, 0, 0)
    assert report.first_event_ns == T0_NS and report.last_event_ns == T0_NS + 149 * 250_000_000
    text = "\n".join(lines)
    assert "per channel: ticker=60" in text and "(37.2 s)" in text and "conn c1: 150 frames, seq 0..149" in text


def test_missing_topic_fails(kafka_bootstrap, unique_name):
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    with pytest.raises(CheckFailed, match="does not exist"):
        check_topic(settings, unique_name("nope"), 1)


def test_too_few_messages_fail_after_reporting(kafka_bootstrap, unique_name):
    settings, topic = _topic(kafka_bootstrap, unique_name)
    stream = _Stream()
    for seq in range(20):
        stream.message(_message(seq))
    _produce(kafka_bootstrap, topic, stream)
    lines: list[str] = []
    with pytest.raises(CheckFailed, match="only 20 valid messages") as exc:
        check_topic(settings, topic, 100, emit=lines.append)
    assert exc.value.exit_code == 7
    assert lines and lines[0].startswith(f"topic {topic}: 3 partitions")


def test_empty_topic_fails(kafka_bootstrap, unique_name):
    settings, topic = _topic(kafka_bootstrap, unique_name)
    with pytest.raises(CheckFailed, match="only 0 valid"):
        check_topic(settings, topic, 1)


def test_broken_messages_are_counted(kafka_bootstrap, unique_name):
    settings, topic = _topic(kafka_bootstrap, unique_name)
    stream = _Stream("c7")
    for seq in range(10):
        stream.message(_message(seq))
    stream.frame('{"channel":"ticker","sequence_num":10,', None)  # malformed JSON (seq 10 lost with it)
    stream.message(_envelope("mystery", 11, [{}]))  # unknown channel
    for seq in range(15, 20):  # seq 12..14 skipped
        stream.message(_message(seq))
    stream.message(_message(17))  # the same sequence_num received again
    bad_ticker = _envelope("ticker", 20, [_ticker("ETH-USD", "1.5")])
    bad_ticker["events"][0]["tickers"][0]["price"] = 1.5
    stream.message(bad_ticker)
    stream.message({"type": "error", "message": "failure to subscribe"})
    stream.marker({"type": "data_gap", "reason": "seq_gap", "products": ["BTC-USD", "ETH-USD"],
                   "from_ns": 1, "to_ns": 2, "detail": {}})
    _produce(kafka_bootstrap, topic, stream)

    report = read_topic(settings, topic)
    assert report.frames == 20
    assert report.valid == 16
    assert report.invalid == {"malformed JSON": 1, "unknown channel": 1, "invalid ticker": 1}
    assert report.by_channel["error"] == 1 and report.by_channel["_malformed"] == 1
    conn = report.conns["c7"]
    # the malformed frame's sequence_num cannot be read, so 10 counts as missing too
    assert conn.gaps() == [(9, 11), (11, 15)] and conn.missing() == 4
    assert report.duplicates == 1
    assert report.markers == {"data_gap": 1} and report.gap_markers == {"seq_gap": 1}
    lines = report.lines()
    assert any("unknown channel 'mystery'" in line for line in lines)
    assert any("price: must be a decimal string" in line for line in lines)
    assert check_topic(settings, topic, 10).valid == 16  # not strict: enough valid messages
    with pytest.raises(CheckFailed, match="3 invalid frames, 4 missing sequence numbers, 1 duplicates"):
        check_topic(settings, topic, 10, strict=True)


def test_reading_does_not_touch_consumer_groups(kafka_bootstrap, unique_name):
    from confluent_kafka.admin import AdminClient

    settings, topic = _topic(kafka_bootstrap, unique_name, partitions=1)
    stream = _Stream()
    for seq in range(5):
        stream.message(_message(seq))
    _produce(kafka_bootstrap, topic, stream)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    before = {g.group_id for g in admin.list_consumer_groups().result().valid}
    read_topic(settings, topic)
    after = {g.group_id for g in admin.list_consumer_groups().result().valid}
    assert not {g for g in after - before if g.startswith("glue-check")}


def test_cli_exit_codes(kafka_bootstrap, unique_name, repo_root):
    _settings, topic = _topic(kafka_bootstrap, unique_name)
    stream = _Stream()
    for seq in range(12):
        stream.message(_message(seq))
    _produce(kafka_bootstrap, topic, stream)
    base = [sys.executable, "-m", "glue", "check", "--bootstrap", kafka_bootstrap]

    ok = subprocess.run([*base, "--topic", topic, "--min", "10"], capture_output=True, text=True, cwd=repo_root)
    assert ok.returncode == 0, ok.stderr
    assert "per channel:" in ok.stdout and "check passed" in ok.stdout

    few = subprocess.run([*base, "--topic", topic, "--min", "50"], capture_output=True, text=True, cwd=repo_root)
    assert few.returncode == 7
    assert "error: only 12 valid messages" in few.stderr and "Traceback" not in few.stderr

    missing = subprocess.run([*base, "--topic", unique_name("absent")], capture_output=True, text=True,
                             cwd=repo_root)
    assert missing.returncode == 7 and "does not exist" in missing.stderr


@pytest.mark.slow
def test_unreachable_broker_is_one_line(repo_root):
    from glue.net import free_port

    cmd = [sys.executable, "-m", "glue", "check", "--bootstrap", f"127.0.0.1:{free_port()}", "--min", "1"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root, timeout=60)
    assert res.returncode == 3
    assert "not reachable" in res.stderr and "Traceback" not in res.stderr

