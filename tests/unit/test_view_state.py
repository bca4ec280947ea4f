"""glue.view.state (no I/O): what the live view makes of topic records, and the metric hooks' arithmetic."""

from __future__ import annotations

import json

import pytest

from glue.view.state import ViewState

NS = 1_000_000_000
T0 = 1_767_225_600 * NS  # 2026-01-01T00:00:00Z


def raw_headers(kind: str, recv_ns: int, conn: str = "c1", iseq: int = 1) -> list[tuple[str, bytes]]:
    return [("glue.v", b"1"), ("glue.kind", kind.encode()), ("glue.recv_ns", str(recv_ns).encode()),
            ("glue.conn", conn.encode()), ("glue.iseq", str(iseq).encode()), ("glue.seq", b"")]


def frame(ts: str) -> bytes:
    return json.dumps({"channel": "ticker", "timestamp": ts, "sequence_num": 1,
                       "events": [{"type": "update", "tickers": [{"product_id": "BTC-USD"}]}]}).encode()


def feature(second: str, emitted_ns: int, **cols) -> bytes:
    return json.dumps({"product_id": "BTC-USD", "second_at": second, "sql_version": "v4", "mid_price": 100.0,
                       "vol_60s_bps": 1.5, "vol_300s_bps": 1.2, "emitted_at": emitted_ns, **cols}).encode()


def prediction(second: str, p: float, spike: bool, product: str = "BTC-USD") -> bytes:
    return json.dumps({"product_id": product, "second_at": second, "probability": p, "is_spike": spike,
                       "threshold": 0.5, "model_version": "m1", "sql_version": "v4",
                       "feature_emitted_at": T0 + 3 * NS, "scored_at": T0 + 3 * NS + 20_000_000}).encode()


def test_rows_become_events_and_a_cursor_gets_only_what_is_new():
    s = ViewState()
    s.add("features", b"BTC-USD", feature("2026-01-01T00:00:01Z", T0 + 3 * NS), None, T0 // 10**6, T0)
    rows, cursor, reset = s.events_after(0)
    assert [r["k"] for r in rows] == ["f"] and rows[0]["mid"] == 100.0 and rows[0]["t"] == T0 // 10**6 + 1000
    assert not reset
    s.add("predictions", b"BTC-USD", prediction("2026-01-01T00:00:01Z", 0.7, True), None, T0 // 10**6, T0)
    rows, cursor2, _ = s.events_after(cursor)
    assert [r["k"] for r in rows] == ["p"] and rows[0]["spike"] and cursor2 == cursor + 1
    assert s.events_after(cursor2)[0] == []
    assert s.health(T0)["alerts"] == [{"p": "BTC-USD", "t": T0 // 10**6 + 1000, "prob": 0.7, "thr": 0.5}]


def test_a_page_behind_the_bounded_log_is_told_to_reset():
    s = ViewState(max_events=3)
    for i in range(5):
        s.add("predictions", b"X", prediction(f"2026-01-01T00:00:0{i}Z", 0.1, False), None, 0, T0)
    rows, cursor, reset = s.events_after(1)
    assert reset and len(rows) == 3 and cursor == 5


def test_health_counts_gaps_once_reconnects_and_turns_stale():
    s = ViewState(stale_s=5)
    gap = json.dumps({"type": "data_gap", "reason": "seq_gap", "products": ["BTC-USD", "ETH-USD"]}).encode()
    for key in (b"BTC-USD", b"ETH-USD"):  # one marker, written under each product's key
        s.add("raw", key, gap, raw_headers("marker", T0, iseq=7), T0 // 10**6, T0)
    connect = json.dumps({"type": "connect", "products": [], "detail": {"connection": 2}}).encode()
    s.add("raw", b"_control", connect, raw_headers("marker", T0, iseq=8), T0 // 10**6, T0)
    h = s.health(T0 + 1 * NS)
    assert h["ingest"]["seq_gaps"] == 1 and h["ingest"]["reconnects"] == 1
    assert not h["topics"]["raw"]["stale"] and h["topics"]["features"]["stale"]  # no feature row yet
    assert s.health(T0 + 6 * NS)["topics"]["raw"]["stale"]


def test_featurize_lag_is_from_the_last_frame_of_the_rows_second_and_score_latency_from_the_prediction():
    s = ViewState()
    s.add("raw", b"BTC-USD", frame("2026-01-01T00:00:00.400Z"), raw_headers("frame", T0 + 500_000_000), 0, T0)
    s.add("raw", b"BTC-USD", frame("2026-01-01T00:00:00.900Z"), raw_headers("frame", T0 + 950_000_000), 0, T0)
    s.add("raw", b"BTC-USD", frame("2026-01-01T00:00:01.100Z"), raw_headers("frame", T0 + 1_150_000_000), 0, T0)
    s.add("features", b"BTC-USD", feature("2026-01-01T00:00:01Z", T0 + 3_950_000_000), None, 0, T0)
    s.add("predictions", b"BTC-USD", prediction("2026-01-01T00:00:01Z", 0.2, False), None, 0, T0)
    h = s.health(T0)
    assert h["featurize_lag"]["last_ms"] == 3000.0  # 3.95 s emitted - 0.95 s receipt of the last frame in (0, 1]
    assert h["score_latency"]["last_ms"] == 20.0


def test_bad_records_are_counted_never_raised_and_feed_text_is_kept_as_data():
    s = ViewState()
    s.add("features", b"X", b"{not json", None, 0, T0)
    s.add("predictions", b"X", json.dumps({"product_id": 5}).encode(), None, 0, T0)
    hostile = "<script>alert(1)</script>-USD"
    s.add("predictions", hostile.encode(), prediction("2026-01-01T00:00:01Z", 0.1, False, hostile), None, 0, T0)
    h = s.health(T0)
    assert h["skipped"] == 2
    assert [p["p"] for p in h["products"]] == [hostile]  # handed to the page as a string, drawn as text


def test_label_rule_comes_from_model_json(tmp_path):
    from glue.config import Settings
    from glue.view import label_rule

    (tmp_path / "model.json").write_text(json.dumps({"tau_bps": {"*": 1.5, "BTC-USD": 2.0}}))
    rule = label_rule(Settings().replace({"view.model": str(tmp_path)}))
    assert (rule.label, rule.tau_bps) == ("assignment", {"*": 1.5, "BTC-USD": 2.0})
    assert rule.limit("BTC-USD", {}) == 2.0 and rule.limit("ETH-USD", {}) == 1.5
    assert label_rule(Settings().replace({"view.model": str(tmp_path / "none")})).limit("BTC-USD", {}) is None
    (tmp_path / "model.json").write_text(json.dumps({"tau_bps": {"*": 1.5}, "label": "relative", "k": 1.4,
                                                     "reference_s": 600}))
    rule = label_rule(Settings().replace({"view.model": str(tmp_path)}))
    assert (rule.label, rule.k, rule.reference_s) == ("relative", 1.4, 600)
    assert "1.40 x RMS of the last 600 s" in rule.text("BTC-USD")


def test_relative_label_line_follows_the_reference_and_is_absent_while_it_is_incomplete():
    from glue.view.state import LabelRule

    s = ViewState(label=LabelRule("relative", {"*": 9.0}, k=1.5, reference_s=600))
    # rv_600s_bps is sqrt(sum of squared returns): the per-second reference is rv / sqrt(n)
    for i, (rv, n) in enumerate([(2.0 * 600**0.5, 600), (4.0 * 540**0.5, 540), (4.0, 539), (0.0, 600)]):
        s.add("features", b"BTC-USD", feature(f"2026-01-01T00:00:0{i + 1}Z", T0, rv_600s_bps=rv, n_ret_600s=n),
              None, 0, T0)
    events, _, _ = s.events_after(0)
    lims = [e["lim"] for e in events if e["k"] == "f"]
    assert lims[0] == pytest.approx(3.0) and lims[1] == pytest.approx(6.0)
    assert lims[2:] == [None, None]  # incomplete reference, zero reference; tau is not the relative line
    assert s.health(T0)["products"][0]["label"].startswith("label: relative")


def test_metric_hooks_add_what_a_run_gained():
    from types import SimpleNamespace

    from glue import metrics

    run = SimpleNamespace(consumed=3, predicted=3, alerts=1, dead_lettered=0)
    before = metrics.SCORE_PREDICTIONS._value.get()
    metrics.score_batch(run, [5.0, 7.0])
    run.consumed, run.predicted = 5, 5
    metrics.score_batch(run, [])
    assert metrics.SCORE_PREDICTIONS._value.get() - before == 5
