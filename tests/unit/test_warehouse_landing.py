"""The landing rule (pure Python): fan-out, arrival watermark and late frames (timestamps: test_protocol)."""

from __future__ import annotations

from glue.records import CONTROL_KEY
from glue.warehouse import fixtures as fx
from glue.warehouse.landing import ProductState, build_batch

NS = 10**9


def test_arrival_watermark_and_late_rule() -> None:
    t0 = 1767225600 * NS
    recs = [fx.ticker("BTC-USD", t0 + 10 * NS, "1", "2", seq=1),
            fx.ticker("BTC-USD", t0 + 8 * NS, "1", "2", seq=2),      # exactly at the watermark: on time
            fx.ticker("BTC-USD", t0 + 7 * NS, "1", "2", seq=3),      # below it: late
            fx.ticker("ETH-USD", t0 + 1 * NS, "1", "2", seq=4)]      # another product has its own watermark
    states: dict[str, ProductState] = {}
    batch, nxt = build_batch(recs, None, states, 100, lateness_ns=2 * NS)
    assert nxt == 104
    assert batch.frames["arrival_wm_ns"] == [None, t0 + 8 * NS, t0 + 8 * NS, None]
    assert batch.n_late == 1
    assert states["BTC-USD"].max_event_ns == t0 + 10 * NS
    assert states["BTC-USD"].min_accepted_event_ns == t0 + 8 * NS


def test_kafka_key_wins_and_dead_letters_keep_offsets() -> None:
    rec = fx.ticker("BTC-USD", "2026-01-01T00:00:01Z", "1", "2", seq=1)
    batch, _ = build_batch([rec, None], [("ticks.raw", 3, 41, "BTC-USD"), ("ticks.raw", 3, 42, None)], {}, 0, 0)
    assert batch.frames["product_key"] == ["BTC-USD"]
    assert batch.offsets == {("ticks.raw", 3): 43}
    assert batch.first_coord == (3, 41)
    assert batch.n_dead == 1


def test_replay_fans_out_and_control_frames_have_no_watermark() -> None:
    bad = fx.Record(kind="frame", recv_ns=0, conn="c", iseq=0, frame="{not json")
    gap = fx.gap(["BTC-USD", "ETH-USD"], "2026-01-01T00:00:01Z", "2026-01-01T00:00:03Z")
    batch, _ = build_batch([bad, gap], None, {}, 0, 0)
    assert batch.frames["product_key"] == [CONTROL_KEY]
    assert batch.frames["arrival_wm_ns"] == [None]
    assert batch.markers["product_key"] == ["BTC-USD", "ETH-USD"]


def test_fast_archive_reader_equals_read_archive(tmp_path) -> None:
    from glue.records import read_archive, read_archive_fast

    recs = list(fx.simulate_ticker_stream(50, gap_every=10))
    odd = fx.Record(kind="frame", recv_ns=1, conn="c", iseq=7, frame="{not json", extra={"src": "import:x"})
    path = tmp_path / "a.ndjson"
    path.write_text("\n".join(r.to_archive_line() for r in [*recs, odd]) + "\n\n")
    fast = list(read_archive_fast([str(path)]))
    ref = list(read_archive([str(path)]))
    assert [(r.kind, r.recv_ns, r.conn, r.iseq, r.frame, r.marker) for r in fast] == [
        (r.kind, r.recv_ns, r.conn, r.iseq, r.frame, r.marker) for r in ref]
