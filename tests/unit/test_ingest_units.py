"""Unit tests for ingest's pure parts: frame inspection, sequence tracking, backoff, archive, spool."""

from __future__ import annotations

import json
import random

from glue.archive import ArchiveWriter
from glue.ingest.backoff import Backoff
from glue.ingest.resnapshot import Resnapshot, ResnapshotRequest
from glue.ingest.runner import resnapshot_messages, subscribe_messages
from glue.ingest.spool import Spool, SpooledMessage
from glue.ingest.tracker import StreamTracker
from glue.protocol import BAD, DATA, ERROR, HEARTBEAT, UNKNOWN_CHANNEL, inspect_frame
from glue.records import KIND_FRAME, Record, fanout_keys, parse_rfc3339_ns, read_archive


def frame(seq, channel="ticker", ts="2026-04-04T21:13:43.5Z", product="BTC-USD", **extra):
    obj = {"channel": channel, "timestamp": ts, "sequence_num": seq, "events": []}
    if channel == "ticker":
        obj["events"] = [{"type": "update", "tickers": [{"type": "ticker", "product_id": product, "price": "1"}]}]
    if channel == "heartbeats":
        obj["events"] = [{"current_time": "x", "heartbeat_counter": extra.pop("hb")}]
    obj.update(extra)
    return json.dumps(obj)


def ts(second: int) -> str:
    return f"2026-04-04T21:13:{second:02d}.5Z"


def test_inspect_classifies_and_keys_match_fanout_keys():
    cases = {
        frame(1): DATA,
        frame(2, "heartbeats", hb=5): HEARTBEAT,
        '{"type":"error","message":"authentication failure"}': ERROR,
        "{not json": BAD,
        "[1,2]": BAD,
        json.dumps({"channel": "mystery", "sequence_num": 3, "timestamp": ts(1)}): UNKNOWN_CHANNEL,
        json.dumps({"channel": "ticker", "timestamp": ts(1), "events": []}): BAD,  # no sequence_num
        json.dumps({"channel": "heartbeats", "timestamp": ts(1), "sequence_num": 4, "events": 5}): HEARTBEAT,
    }
    for text, expected in cases.items():
        info = inspect_frame(text)
        assert info.cls == expected, text
        record = Record(KIND_FRAME, 1, "c", 1, frame=text)
        assert info.keys == fanout_keys(record)
    assert inspect_frame(frame(1, product="ETH-USD")).keys == ["ETH-USD"]
    assert inspect_frame(frame(2, "heartbeats", hb="7")).heartbeat_counter == 7  # string counters accepted


def run(tracker, texts):
    out = []
    for text in texts:
        out.append(tracker.observe(inspect_frame(text)))
    return out


def test_clean_sequence_gives_no_markers():
    t = StreamTracker(["BTC-USD"])
    t.new_connection("c1")
    assert all(m == [] for m in run(t, [frame(i, ts=ts(i)) for i in range(5)]))
    assert t.stats.seq_gaps == 0


def test_gap_duplicate_out_of_order():
    t = StreamTracker(["BTC-USD", "ETH-USD"])
    t.new_connection("c1")
    markers = run(t, [frame(0, ts=ts(0)), frame(1, ts=ts(1)), frame(4, ts=ts(4)), frame(4, ts=ts(4)),
                      frame(2, ts=ts(2)), frame(5, ts=ts(5))])
    gap = markers[2][0]
    assert gap["type"] == "data_gap" and gap["reason"] == "seq_gap"
    assert gap["products"] == ["BTC-USD", "ETH-USD"]
    assert gap["from_ns"] == parse_rfc3339_ns(ts(1)) and gap["to_ns"] == parse_rfc3339_ns(ts(4))
    assert gap["detail"]["missing"] == 2
    assert markers[3][0]["type"] == "duplicate"
    assert markers[4][0]["type"] == "out_of_order"
    assert markers[5] == []
    assert (t.stats.seq_gaps, t.stats.missing_messages, t.stats.duplicates, t.stats.out_of_order) == (1, 2, 1, 1)


def test_reconnect_resets_sequence_and_marks_disconnect_window():
    t = StreamTracker(["BTC-USD"])
    t.new_connection("c1")
    run(t, [frame(0, ts=ts(0)), frame(1, ts=ts(1))])
    t.connection_ended("watchdog")
    t.new_connection("c2")
    markers = run(t, [frame(0, ts=ts(9)), frame(1, ts=ts(10))])
    assert len(markers[0]) == 1
    gap = markers[0][0]
    assert gap["reason"] == "watchdog" and gap["from_ns"] == parse_rfc3339_ns(ts(1))
    assert gap["to_ns"] == parse_rfc3339_ns(ts(9))
    assert markers[1] == [] and t.stats.seq_gaps == 0 and t.stats.disconnect_gaps == 1


def test_heartbeat_counter_jump_is_marked_without_data_gap():
    t = StreamTracker(["BTC-USD"])
    t.new_connection("c1")
    markers = run(t, [frame(0, "heartbeats", hb=10, ts=ts(0)), frame(1, "heartbeats", hb=13, ts=ts(3))])
    assert [m["type"] for m in markers[1]] == ["clock", "heartbeat_gap"]
    assert t.stats.heartbeat_gaps == 1


def test_in_order_heartbeats_write_clock_markers_for_every_product():
    t = StreamTracker(["ETH-USD", "BTC-USD"])
    t.new_connection("c1")
    markers = run(t, [frame(0, "heartbeats", hb=1, ts=ts(0)), frame(1, ts=ts(1)),
                      frame(3, "heartbeats", hb=2, ts=ts(2)), frame(3, "heartbeats", hb=2, ts=ts(2)),
                      frame(2, "heartbeats", hb=3, ts=ts(3)), frame(4, "heartbeats", hb=3, ts="not a time")])
    clock = markers[0][0]
    assert clock == {"type": "clock", "products": ["BTC-USD", "ETH-USD"], "at_ns": parse_rfc3339_ns(ts(0)),
                     "detail": {"conn": "c1", "seq": 0}}
    assert markers[1] == []  # a data frame: no clock
    assert [m["type"] for m in markers[2]] == ["data_gap", "clock"]  # after a gap: the gap first
    # a repeated or late heartbeat moves no clock; nor does one without a usable exchange time
    assert [m["type"] for m in markers[3] + markers[4] + markers[5] if m["type"] == "clock"] == []
    assert markers[3][0]["type"] == "duplicate" and markers[4][0]["type"] == "out_of_order"
    assert t.stats.clocks == 2


def test_bad_frames_are_marked_and_do_not_break_sequence():
    t = StreamTracker(["BTC-USD"])
    t.new_connection("c1")
    markers = run(t, [frame(0, ts=ts(0)), "{oops", '{"type":"error","message":"x"}', frame(1, ts=ts(1))])
    assert markers[1][0]["type"] == "bad_frame" and markers[2][0]["type"] == "error_frame"
    assert markers[3] == []


def test_backoff_is_capped_exponential_with_jitter():
    b = Backoff(0.25, 2.0, 0.2, rng=random.Random(1))
    delays = [b.next_delay_s() for _ in range(6)]
    bases = [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert all(base <= d <= base + 0.2 for d, base in zip(delays, bases, strict=True))
    b.reset()
    assert b.next_delay_s() <= 0.45


def test_subscribe_one_message_per_channel_heartbeats_without_products():
    msgs = subscribe_messages(("ticker", "level2", "heartbeats"), ("BTC-USD", "ETH-USD"))
    assert [m["channel"] for m in msgs] == ["ticker", "level2", "heartbeats"]
    assert msgs[0]["product_ids"] == ["BTC-USD", "ETH-USD"] and "product_ids" not in msgs[2]


def test_resnapshot_is_level2_unsubscribe_then_subscribe_each_with_a_fresh_jwt():
    tokens = iter(["jwt-1", "jwt-2"])
    msgs = resnapshot_messages(("BTC-USD", "ETH-USD"), lambda: next(tokens))
    assert msgs == [
        {"type": "unsubscribe", "channel": "level2", "product_ids": ["BTC-USD", "ETH-USD"], "jwt": "jwt-1"},
        {"type": "subscribe", "channel": "level2", "product_ids": ["BTC-USD", "ETH-USD"], "jwt": "jwt-2"},
    ]
    assert "jwt" not in resnapshot_messages(("BTC-USD",))[1]


def test_inspect_lists_the_products_an_l2_data_frame_snapshots():
    def l2(*events):
        return json.dumps({"channel": "l2_data", "timestamp": ts(1), "sequence_num": 1, "events": list(events)})

    snap = {"type": "snapshot", "product_id": "BTC-USD", "updates": []}
    update = {"type": "update", "product_id": "ETH-USD", "updates": []}
    assert inspect_frame(l2(snap)).l2_snapshots == ("BTC-USD",)
    assert inspect_frame(l2(update, {**snap, "product_id": "ETH-USD"})).l2_snapshots == ("ETH-USD",)
    assert inspect_frame(l2(update)).l2_snapshots == ()
    assert inspect_frame(frame(1)).l2_snapshots == ()
    broken = json.dumps({"channel": "l2_data", "timestamp": ts(1), "sequence_num": 1, "events": 5})
    assert inspect_frame(broken).cls == DATA and inspect_frame(broken).l2_snapshots == ()


def test_resnapshot_rate_limit_coalesces_gaps_and_sends_pending_ones_when_the_interval_ends():
    r = Resnapshot(("BTC-USD", "ETH-USD"), interval_s=5.0, timeout_s=30.0)
    assert r.due(0.0) is None  # nothing lost, nothing to ask
    assert r.on_gap(3)
    assert r.due(0.0) == ResnapshotRequest(gaps=1, missing=3) and r.awaiting == ("BTC-USD", "ETH-USD")
    assert r.due(0.1) is None  # sent once
    # a gap before any requested snapshot arrived is repaired by them (they come later in sequence order)
    assert not r.on_gap(2) and not r.pending
    r.on_snapshot("BTC-USD")
    r.on_snapshot("ETH-USD")
    assert r.awaiting == ()
    # gaps after the snapshots: pending until the interval since the last request ends, then one request
    assert r.on_gap(1) and r.on_gap(4) and r.pending
    assert r.due(4.9) is None
    assert r.due(5.0) == ResnapshotRequest(gaps=2, missing=5)
    # a partly answered request: the books already restated need a new one
    r.on_snapshot("ETH-USD")
    assert r.on_gap(1) and r.due(9.0) is None
    r.on_snapshot("BTC-USD")
    assert r.due(10.0) == ResnapshotRequest(gaps=1, missing=1)
    # a new connection subscribes afresh: no interval running, nothing pending or awaited
    r.new_connection()
    assert not r.pending and r.awaiting == () and r.due(10.1) is None
    assert r.on_gap(7) and r.due(10.2) == ResnapshotRequest(gaps=1, missing=7)


def test_resnapshot_pending_request_dropped_when_snapshots_arrive_and_alias_accepted():
    r = Resnapshot(("BTC-USDC", "ETH-USD"), interval_s=5.0, timeout_s=30.0)
    assert r.on_gap(1) and r.due(0.0) is not None
    r.on_snapshot("BTC-USD")  # the exchange serves BTC-USDC as BTC-USD
    assert r.awaiting == ("ETH-USD",)
    assert r.on_gap(2) and r.pending  # BTC-USDC's book was restated before this gap: it needs a new one
    assert not r.on_snapshot("ETH-USD") and r.pending
    assert r.on_snapshot("BTC-USD") and not r.pending  # answered before the interval ended: no request
    assert r.due(10.0) is None


def test_resnapshot_times_out_once_when_a_snapshot_never_comes():
    r = Resnapshot(("BTC-USD", "ETH-USD"), interval_s=5.0, timeout_s=30.0)
    assert r.on_gap(1) and r.due(100.0) is not None
    r.on_snapshot("BTC-USD")
    assert r.timed_out(129.9) == ()
    assert r.timed_out(130.0) == ("ETH-USD",)
    assert r.timed_out(131.0) == ()  # reported once; the caller reconnects
    assert r.on_gap(1)  # and a later gap is not taken as covered by the lost snapshot


def test_archive_rotates_by_size_and_date_and_roundtrips(tmp_path):
    day1 = parse_rfc3339_ns("2026-04-04T23:59:59Z")
    day2 = parse_rfc3339_ns("2026-04-05T00:00:01Z")
    w = ArchiveWriter(tmp_path, "run1", rotate_bytes=300)
    records = [Record(KIND_FRAME, day1, "c", i, frame=frame(i)) for i in range(4)]
    records.append(Record(KIND_FRAME, day2, "c", 5, frame=frame(5)))
    for r in records:
        w.add(r)
    w.close()
    names = [p.relative_to(tmp_path).as_posix() for p in w.files]
    assert names[0] == "2026-04-04/run1-0001.ndjson" and names[-1].startswith("2026-04-05/")
    assert len(names) >= 3  # size rotation too
    back = list(read_archive([str(p) for p in w.files]))
    assert back == records


def test_archive_flush_makes_lines_visible(tmp_path):
    w = ArchiveWriter(tmp_path, "run1")
    w.add(Record(KIND_FRAME, 10**18, "c", 1, frame="{}"))
    assert w.current_path.read_bytes() == b""  # buffered until flush
    w.flush()
    assert w.current_path.read_bytes().count(b"\n") == 1
    w.close()


def test_spool_fifo_across_segments_and_restart(tmp_path):
    s = Spool(tmp_path, "r1", segment_bytes=200)
    msgs = [SpooledMessage(b"BTC-USD", f'{{"n":{i}}}'.encode(), [("glue.iseq", str(i).encode())]) for i in range(10)]
    for m in msgs[:6]:
        s.append(m)
    assert [s.pop() for _ in range(3)] == msgs[:3]
    for m in msgs[6:]:
        s.append(m)
    assert s.pending == 7
    s.close()
    s2 = Spool(tmp_path, "r2")
    assert s2.pending == 7
    got = []
    while (m := s2.pop()) is not None:
        got.append(m)
    assert got == msgs[3:]
    s2.close()
    assert list(tmp_path.glob("*.spool")) == []


def test_fast_archive_line_is_identical_to_the_contract_encoding():
    from glue.archive import archive_line

    texts = [frame(1), '{"a":"é \\u0000 \\"q\\" \\\\ \n\t"}', "not json \x7f \u2028", ""]
    for text in texts:
        r = Record(KIND_FRAME, 1_775_000_000_123_456_789, "run-0001", 42, frame=text)
        assert archive_line(r) == r.to_archive_line()
    marker = Record("marker", 1, "c", 2, marker={"type": "data_gap"})
    assert archive_line(marker) == marker.to_archive_line()


def test_bad_settings_are_user_errors():
    import dataclasses

    import pytest

    from glue.config import Settings
    from glue.errors import ConfigError
    from glue.ingest import run_ingest

    s = Settings()
    for change in ({"url": "http://x"}, {"pairs": ()}, {"channels": ()}, {"l2_resnapshot_interval_s": 0.0},
                   {"l2_resnapshot_timeout_s": -1.0}):
        bad = dataclasses.replace(s, ingest=dataclasses.replace(s.ingest, **change))
        with pytest.raises(ConfigError):
            run_ingest(bad)


def test_cdp_jwt_is_a_valid_es256_token_with_the_documented_claims():
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from glue.ingest.jwt import CdpJwt

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    token = CdpJwt("organizations/x/apiKeys/y", pem)()

    def unb64(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    head, body, sig = token.split(".")
    header, claims = json.loads(unb64(head)), json.loads(unb64(body))
    assert header["alg"] == "ES256" and header["kid"] == "organizations/x/apiKeys/y" and header["nonce"]
    assert claims["iss"] == "cdp" and claims["exp"] - claims["nbf"] == 120 and "uri" not in claims
    raw = unb64(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if invalid


def test_cached_kafka_headers_equal_the_contract():
    from glue.ingest.pipeline import kafka_headers

    for r, seq in ((Record(KIND_FRAME, 123, "run-0001", 7, frame="{}"), 5),
                   (Record("marker", 124, "run-0002", 8, marker={"type": "x"}), None)):
        assert kafka_headers(r, seq) == r.kafka_headers(seq)
        assert kafka_headers(r, seq) == r.kafka_headers(seq)  # cached path
