"""`glue ingest` against the fake exchange and the real broker: a clean run and every fault."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from glue.testing.ingest import (
    LEVEL2_FIRST,
    ExchangeThread,
    archive_records,
    assert_kafka_matches_archive,
    assert_sent_equals_archived,
    ingest_settings,
    markers,
    read_topic,
    resubscribed_then,
    run_ingest_until,
)
from glue.testing.names import unique_name

pytestmark = pytest.mark.kafka


def _conn_frames(ex: ExchangeThread, conn: int) -> int:
    return len(ex.server.sent.get(conn, ())) if ex.server else 0


def test_clean_run_everything_sent_is_in_kafka_and_archive_once(kafka_bootstrap, tmp_path):
    topic = unique_name("ticks-raw")
    with ExchangeThread(speed=0) as ex:
        settings = ingest_settings(ex.url, tmp_path, bootstrap=kafka_bootstrap, topic=topic)
        summary = run_ingest_until(settings, lambda: _conn_frames(ex, 1) >= 3000)
        sent = ex.sent()
    records = archive_records(summary)
    assert_sent_equals_archived(sent, records)
    assert summary.connections == 1 and summary.seq_gaps == 0 and summary.bad_frames == 0
    assert summary.kafka_acked == summary.kafka_produced and summary.kafka_spool_pending == 0
    messages = read_topic(kafka_bootstrap, topic, summary.kafka_acked)
    assert len(messages) == summary.kafka_acked
    assert_kafka_matches_archive(messages, records)
    # frames are stored unchanged; keys follow the products
    keys = {key for _p, _o, key, _v, _h in messages}
    assert {"BTC-USD", "ETH-USD", "_control"} <= keys


# fault -> (what the summary must show, frames lost in flight allowed)
FAULTS = {
    "drop:300:1000": (lambda s: s.reconnects >= 1 and s.close_codes.get("1000", 0) >= 1, 0),
    "drop:300:1011": (lambda s: s.reconnects >= 1 and s.close_codes.get("1011", 0) >= 1, 0),
    "drop:300:reset": (lambda s: s.reconnects >= 1 and s.disconnect_gaps >= 1, 10_000),
    "stall:300:3:silence": (lambda s: s.watchdog_fired >= 1 and s.reconnects >= 1, 0),
    "stall:300:2:heartbeats": (lambda s: s.seq_gaps == 0, 0),
    "skip_seq:300:5": (lambda s: s.seq_gaps == 1 and s.missing_messages == 5, 0),
    "duplicate:300": (lambda s: s.duplicates == 1, 0),
    "reorder:300": (lambda s: s.out_of_order == 1, 0),
    "malformed:300": (lambda s: s.bad_frames == 1, 0),
    "unknown_channel:300": (lambda s: s.unknown_channel == 1, 0),
    "error_frame:300": (lambda s: s.error_frames == 1, 0),
    "oversize_snapshot:5": (lambda s: s.bytes_received > 10_000_000, 0),
    "slow_send:2": (lambda s: s.frames > 100, 0),
}
RECONNECTING = {"drop:300:1000", "drop:300:1011", "drop:300:reset", "stall:300:3:silence"}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_is_survived_marked_and_nothing_delivered_is_lost(fault, kafka_bootstrap, tmp_path):
    check, allow_tail_loss = FAULTS[fault]
    topic = unique_name("ticks-raw")
    with ExchangeThread(faults=[fault], speed=0) as ex:
        # a short watchdog where silence is the fault; elsewhere a loaded host building a 5 MB frame in the
        # exchange must not look like a dead connection (that is what the watchdog would then rightly say)
        watchdog_s = 1.5 if fault in RECONNECTING or fault.startswith("stall") else 10.0
        settings = ingest_settings(ex.url, tmp_path, bootstrap=kafka_bootstrap, topic=topic, watchdog_s=watchdog_s)
        if fault in RECONNECTING:
            def done():
                return _conn_frames(ex, 2) >= 200
        elif fault.startswith("stall"):
            started = time.monotonic()

            def done():
                return time.monotonic() - started > 4 and _conn_frames(ex, 1) >= 600
        elif fault.startswith(("oversize", "slow")):
            started = time.monotonic()

            def done():
                return time.monotonic() - started > 3
        else:
            def done():
                return _conn_frames(ex, 1) >= 600
        summary = run_ingest_until(settings, done, timeout_s=40)
        sent = ex.sent()
    records = archive_records(summary)
    assert check(summary), "\n".join(summary.lines())
    assert_sent_equals_archived(sent, records, allow_tail_loss=allow_tail_loss)
    if fault in RECONNECTING:
        # resubscribed: the new connection got the subscriptions ack and snapshots again
        subscribed = markers(records, "subscribed")
        assert len(subscribed) >= 2
        gaps = markers(records, "data_gap")
        assert any(g["reason"] in ("disconnect", "watchdog") for g in gaps)
        assert all(g["from_ns"] <= g["to_ns"] and g["products"] == ["BTC-USD", "ETH-USD"] for g in gaps)
    if fault.startswith("skip_seq"):
        gap = markers(records, "data_gap")[0]
        assert gap["reason"] == "seq_gap" and gap["detail"]["missing"] == 5 and gap["from_ns"] <= gap["to_ns"]
    messages = read_topic(kafka_bootstrap, topic, summary.kafka_acked)
    assert summary.kafka_acked == summary.kafka_produced
    assert_kafka_matches_archive(messages, records)


def test_data_watchdog_reconnects_a_feed_that_only_beats(tmp_path):
    with ExchangeThread(faults=["stall:300:4:heartbeats"], speed=0) as ex:
        settings = ingest_settings(ex.url, tmp_path, watchdog_s=10.0)
        summary = run_ingest_until(settings, lambda: _conn_frames(ex, 2) >= 200, kafka_enabled=False,
                                   data_watchdog_s=1.5)
        sent = ex.sent()
    records = archive_records(summary)
    assert summary.watchdog_fired >= 1 and summary.reconnects >= 1, "\n".join(summary.lines())
    assert_sent_equals_archived(sent, records)  # closed cleanly: what was in flight is archived
    assert any(g["reason"] == "watchdog" for g in markers(records, "data_gap"))


def test_handshake_failures_and_refused_connections_are_retried(tmp_path):
    # Nothing listens on the port at first: every attempt fails, with backoff, and the run still stops cleanly.
    from glue.net import free_port

    port = free_port()
    settings = ingest_settings(f"ws://127.0.0.1:{port}", tmp_path)
    started = time.monotonic()
    summary = run_ingest_until(settings, lambda: time.monotonic() - started > 2.0, kafka_enabled=False)
    assert summary.connect_failures >= 3 and summary.connections == 0


def test_http_429_rejections_are_retried(tmp_path):
    # every connection is closed after 20 data messages; reconnects beyond 1/s are answered HTTP 429
    with ExchangeThread(faults=["reject_rate:1", "drop:20:1000@*"], speed=0) as ex:
        settings = ingest_settings(ex.url, tmp_path)
        summary = run_ingest_until(settings, lambda: ex.server.connections >= 3, kafka_enabled=False)
        sent = ex.sent()
    assert summary.connect_failures >= 1 and summary.connections >= 3
    records = archive_records(summary)
    assert_sent_equals_archived(sent, records)
    assert all(json.loads(r.frame) for r in records if r.kind == "frame")


def test_frame_larger_than_kafka_limit_is_dead_lettered_not_looped(kafka_bootstrap, tmp_path):
    import dataclasses

    topic = unique_name("ticks-raw")
    with ExchangeThread(faults=["oversize_snapshot:2"], speed=0) as ex:
        settings = ingest_settings(ex.url, tmp_path, bootstrap=kafka_bootstrap, topic=topic)
        settings = dataclasses.replace(settings, kafka=dataclasses.replace(settings.kafka,
                                                                           max_message_bytes=1_000_000))
        summary = run_ingest_until(settings, lambda: _conn_frames(ex, 1) >= 500)
        sent = ex.sent()
    records = archive_records(summary)
    assert_sent_equals_archived(sent, records)  # archived in full, no reconnect loop
    assert summary.connections == 1 and summary.kafka_dead >= 2, "\n".join(summary.lines())
    dead = list((tmp_path / "spool").rglob("dead-*.ndjson"))
    assert dead and sum(1 for _ in dead[0].open()) == summary.kafka_dead


# ---- level2 resnapshots after sequence gaps ---------------------------------------------------------------


def _l2_snapshots(record) -> tuple[str, ...]:
    from glue.protocol import inspect_frame

    return inspect_frame(record.frame).l2_snapshots if record.kind == "frame" else ()


def _resnapshot_markers(records) -> list[int]:
    """Archive positions of the `subscribed` markers that resnapshot requests wrote."""
    return [i for i, r in enumerate(records) if r.kind == "marker" and r.marker["type"] == "subscribed"
            and r.marker["detail"].get("reason") == "resnapshot"]


def _assert_every_gap_is_followed_by_snapshots(records) -> None:
    """After each seq_gap marker, a new l2_data snapshot of every product (its book is known again)."""
    gaps = [i for i, r in enumerate(records) if r.kind == "marker" and r.marker.get("reason") == "seq_gap"]
    assert gaps
    for i in gaps:
        later = {p for r in records[i + 1 :] for p in _l2_snapshots(r)}
        assert later == {"BTC-USD", "ETH-USD"}, f"gap at record {i} not followed by snapshots ({later})"


def test_sequence_gap_resubscribes_level2_and_new_snapshots_follow(kafka_bootstrap, tmp_path):
    topic = unique_name("ticks-raw")
    with ExchangeThread(faults=["skip_seq:300:5"], speed=0) as ex:
        settings = ingest_settings(ex.url, tmp_path, bootstrap=kafka_bootstrap, topic=topic, channels=LEVEL2_FIRST)
        summary = run_ingest_until(settings, resubscribed_then(ex, 500))
        sent = ex.sent()
        received = [json.loads(m) for m in ex.server.received[1]]
    records = archive_records(summary)
    assert_sent_equals_archived(sent, records)
    assert summary.connections == 1 and summary.seq_gaps == 1, "\n".join(summary.lines())
    assert summary.l2_resnapshots == 1 and summary.l2_resnapshot_timeouts == 0
    assert "level2 resnapshots 1 (timeouts 0)" in "\n".join(summary.lines())
    # what the exchange got: the four subscribes, then level2 unsubscribe + subscribe of both products
    assert [(m["type"], m["channel"]) for m in received] == [
        ("subscribe", "level2"), ("subscribe", "ticker"), ("subscribe", "market_trades"),
        ("subscribe", "heartbeats"), ("unsubscribe", "level2"), ("subscribe", "level2"),
    ]
    assert received[-2]["product_ids"] == received[-1]["product_ids"] == ["BTC-USD", "ETH-USD"]
    # the archive: the gap, the resnapshot marker, then a new snapshot per product
    (gap_at,) = [i for i, r in enumerate(records) if r.kind == "marker" and r.marker.get("reason") == "seq_gap"]
    (asked,) = _resnapshot_markers(records)
    assert gap_at < asked
    detail = records[asked].marker["detail"]
    assert detail == {"channels": ["level2"], "products": ["BTC-USD", "ETH-USD"], "reason": "resnapshot",
                      "gaps": 1, "missing": 5}
    assert sorted(p for r in records[asked + 1 :] for p in _l2_snapshots(r)) == ["BTC-USD", "ETH-USD"]
    _assert_every_gap_is_followed_by_snapshots(records)
    messages = read_topic(kafka_bootstrap, topic, summary.kafka_acked)
    assert summary.kafka_acked == summary.kafka_produced
    assert_kafka_matches_archive(messages, records)


def test_gaps_in_a_burst_cost_one_resnapshot_per_interval_and_every_book_is_restated(tmp_path):
    faults = ["skip_seq:300:5", "skip_seq:3000:2", "skip_seq:6000:1"]
    with ExchangeThread(faults=faults, speed=0) as ex:
        settings = ingest_settings(ex.url, tmp_path, l2_resnapshot_interval_s=1.0, channels=LEVEL2_FIRST)
        started = time.monotonic()
        summary = run_ingest_until(settings, lambda: time.monotonic() - started > 3.0, kafka_enabled=False)
        sent = ex.sent()
    records = archive_records(summary)
    assert_sent_equals_archived(sent, records)
    assert summary.connections == 1 and summary.seq_gaps == 3, "\n".join(summary.lines())
    asked = _resnapshot_markers(records)
    assert 1 <= summary.l2_resnapshots == len(asked) <= 3 and summary.l2_resnapshot_timeouts == 0
    # at most one request per second (markers are stamped on the wall clock, the limit runs on the monotonic
    # one: a little slack), and together they cover every gap
    times = [records[i].recv_ns for i in asked]
    assert all(b - a >= 990_000_000 for a, b in itertools.pairwise(times)), times
    assert sum(records[i].marker["detail"]["gaps"] for i in asked) <= 3
    _assert_every_gap_is_followed_by_snapshots(records)


def test_no_snapshot_after_the_resubscribe_reconnects(tmp_path):
    from glue.exchange.server import ExchangeOptions

    options = ExchangeOptions(start_at_ns=1_775_000_000_000_000_000, book_levels=50, resubscribe_snapshot=False)
    with ExchangeThread(faults=["skip_seq:300:5"], options=options, speed=0) as ex:
        settings = ingest_settings(ex.url, tmp_path, l2_resnapshot_timeout_s=1.0, channels=LEVEL2_FIRST)
        summary = run_ingest_until(settings, lambda: _conn_frames(ex, 2) >= 200, kafka_enabled=False)
        sent = ex.sent()
    records = archive_records(summary)
    assert_sent_equals_archived(sent, records)
    assert summary.l2_resnapshots == 1 and summary.l2_resnapshot_timeouts == 1, "\n".join(summary.lines())
    assert summary.reconnects == 1 and summary.close_codes == {"1000": 2}  # the reconnect, then the stop
    (first_close, *_rest) = markers(records, "disconnect")
    assert first_close["detail"]["cause"] == "resnapshot_timeout"
    assert any(g["reason"] == "disconnect" for g in markers(records, "data_gap"))
    _assert_every_gap_is_followed_by_snapshots(records)  # by the new connection's own snapshots
