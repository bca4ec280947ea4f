"""The fake exchange without sockets: simulator determinism and calibration, wire formats, fault grammar."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import pytest

from glue.errors import ConfigError
from glue.exchange.calibration import Tick, ticker_stats, ticks_from_frames
from glue.exchange.faults import ConnFaults, parse_fault
from glue.exchange.market import NS
from glue.exchange.protocol import fmt_units, format_go_time, format_us
from glue.exchange.simulate import simulate, simulate_frames
from glue.records import parse_rfc3339_ns as parse_ns

START_NS = 1_767_225_600 * NS  # 2026-01-01T00:00:00Z


def frames(seed: int, duration_s: float = 30, **kw) -> list[str]:
    return [f for _, f in simulate_frames(["BTC-USD", "ETH-USD"], seed=seed, start_ns=START_NS,
                                          duration_s=duration_s, book_levels=50, **kw)]


def test_same_seed_gives_identical_frames() -> None:
    assert frames(7) == frames(7)


def test_other_seed_gives_another_market() -> None:
    assert frames(7) != frames(8)


def test_adding_a_product_does_not_change_another_products_path() -> None:
    def btc_ticks(products: list[str]) -> list[str]:
        return [
            json.dumps(m["events"]) for _, ch, m in simulate(products, seed=3, start_ns=START_NS, duration_s=20,
                                                             channels=("ticker",))
            if ch == "ticker" and m["events"][0]["tickers"][0]["product_id"] == "BTC-USD"
        ]

    assert btc_ticks(["BTC-USD"]) == btc_ticks(["BTC-USD", "SOL-USD"])


def test_simulated_stream_follows_the_protocol() -> None:
    msgs = list(simulate(["BTC-USD", "ETH-USD"], seed=1, start_ns=START_NS, duration_s=20, book_levels=40))
    seqs = [m["sequence_num"] for _, _, m in msgs]
    assert seqs == list(range(len(msgs)))  # one counter over every channel, acks and heartbeats included
    channels = [ch for _, ch, _ in msgs]
    # level2 subscribe: one snapshot per product, then the cumulative ack
    assert channels[:3] == ["l2_data", "l2_data", "subscriptions"]
    last_ack = [m for _, ch, m in msgs if ch == "subscriptions"][-1]
    assert last_ack["events"][0]["subscriptions"] == {
        "heartbeats": ["heartbeats"],
        "level2": ["BTC-USD", "ETH-USD"],
        "market_trades": ["BTC-USD", "ETH-USD"],
        "ticker": ["BTC-USD", "ETH-USD"],
    }
    assert {"heartbeats", "ticker", "market_trades", "l2_data"} <= set(channels)
    hb = [m["events"][0]["heartbeat_counter"] for _, ch, m in msgs if ch == "heartbeats"]
    assert hb == list(range(1, len(hb) + 1)) and len(hb) == 20
    stamps = [parse_ns(m["timestamp"]) for _, _, m in msgs]
    assert stamps[0] == START_NS and stamps == sorted(stamps)  # nothing before the snapshots, in time order
    for _, _, m in msgs:
        assert m["client_id"] == ""  # as the real feed (and the official SDK) have it
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z", m["timestamp"])


def test_books_stay_consistent_and_trade_ids_are_consecutive() -> None:
    books: dict[str, dict[str, dict[float, float]]] = {}
    last_trade: dict[str, int] = {}
    for _, ch, m in simulate(["BTC-USD", "ETH-USD"], seed=5, start_ns=START_NS, duration_s=120, book_levels=60):
        for ev in m.get("events", []):
            if ch == "l2_data":
                book = books.setdefault(ev["product_id"], {"bid": {}, "offer": {}})
                if ev["type"] == "snapshot":
                    book["bid"].clear()
                    book["offer"].clear()
                for u in ev["updates"]:
                    assert u["side"] in ("bid", "offer")
                    assert not re.search(r"\.\d*0$", u["new_quantity"]) and not u["price_level"].endswith(".")
                    price, qty = float(u["price_level"]), float(u["new_quantity"])
                    if qty == 0:
                        assert price in book[u["side"]], "a delete names a level that exists"
                        del book[u["side"]][price]
                    else:
                        book[u["side"]][price] = qty
                assert max(book["bid"]) < min(book["offer"]), "the book never crosses"
            elif ch == "market_trades":
                ids = [int(t["trade_id"]) for t in ev["trades"]]
                assert ids == sorted(ids, reverse=True), "newest first"
                if ev["type"] == "snapshot":
                    assert len(ids) == 100
                    assert ids == list(range(ids[0], ids[0] - 100, -1))
                    last_trade[ev["trades"][0]["product_id"]] = ids[0]
                else:
                    pid = ev["trades"][0]["product_id"]
                    assert ids[-1] == last_trade[pid] + 1 and ids == list(range(ids[0], ids[-1] - 1, -1))
                    last_trade[pid] = ids[0]
                    assert {t["side"] for t in ev["trades"]} <= {"BUY", "SELL"}
    assert set(books) == {"BTC-USD", "ETH-USD"}


# The calibration ranges are generous on purpose: the real captures themselves differ by 3x.
CALIBRATION_RANGES = {
    "updates_per_s_mean": (1.2, 5.0),
    "updates_per_s_p99": (4, 16),
    "seconds_no_update_pct": (2, 35),
    "spread_bps_p50": (0.0005, 0.06),
    "return_std_bps": (0.08, 0.6),
    "return_excess_kurtosis": (15, 400),
    "zero_mid_change_pct": (45, 97),
    "abs_r_autocorr_lag1": (0.02, 0.3),
    "sigma_future60_p50": (0.03, 0.4),
    "sigma_future60_p99": (0.2, 2.0),
}


@pytest.mark.slow
def test_two_simulated_hours_match_the_calibration_ranges() -> None:
    stream = simulate_frames(["BTC-USD", "ETH-USD"], seed=7, start_ns=START_NS, duration_s=7200,
                             channels=("ticker",), book_levels=50)
    stats = ticker_stats(ticks_from_frames(f for _, f in stream))
    for pid in ("BTC-USD", "ETH-USD"):
        s = stats[pid]
        for key, (lo, hi) in CALIBRATION_RANGES.items():
            assert lo <= s[key] <= hi, f"{pid} {key}={s[key]:.4g} outside [{lo}, {hi}]"
        # sigma_future60 spreads out: calm and busy minutes differ (regimes, bursts)
        assert s["sigma_future60_p90"] > 1.5 * s["sigma_future60_p50"]
    assert 0.05 < stats["BTC-USD"]["top_size_p50"] < 1.0
    assert 0.5 < stats["ETH-USD"]["top_size_p50"] < 8.0


def test_decimal_strings_are_not_padded() -> None:
    assert fmt_units(0, 8) == "0"
    assert fmt_units(2_400_000, 8) == "0.024"
    assert fmt_units(8_327_725, 2) == "83277.25"
    assert fmt_units(6_700_000, 2) == "67000"
    assert fmt_units(-150, 2) == "-1.5"


def test_time_formats() -> None:
    ns = START_NS + 167_686_736
    assert format_us(ns) == "2026-01-01T00:00:00.167686Z"
    assert format_go_time(ns, 12242 * NS + 233_881_028) == (
        "2026-01-01 00:00:00.167686736 +0000 UTC m=+12242.233881028"
    )


def test_fault_grammar() -> None:
    f = parse_fault("drop:100:reset")
    assert (f.name, f.args, f.conn) == ("drop", ("100", "reset"), 1)
    assert parse_fault("skip_seq:10:3@2").conn == 2
    assert parse_fault("no_heartbeats@*").conn is None
    assert parse_fault("stall:5:2.5:heartbeats").args == ("5", "2.5", "heartbeats")
    for bad in ("drop:10:1001", "drop:10", "stall:1:2:loud", "bogus:1", "skip_seq:x:1", "duplicate:1@0",
                "slow_send:-5", "reorder:1.5"):
        with pytest.raises(ConfigError):
            parse_fault(bad)


def test_faults_fire_once_in_order_of_n() -> None:
    cf = ConnFaults.for_conn([parse_fault("duplicate:5"), parse_fault("reorder:2"), parse_fault("malformed:9@2"),
                              parse_fault("slow_send:20@*")], conn=1)
    assert math.isclose(cf.slow_send_s, 0.02)
    assert [f.name for f in cf.due(1)] == []
    assert [f.name for f in cf.due(5)] == ["reorder", "duplicate"]
    assert cf.due(6) == [] and cf.triggered == []


def test_ticker_batch_every_5_s_without_best_bid_ask() -> None:
    msgs = [m for _, ch, m in simulate(["BTC-USD"], seed=2, start_ns=START_NS, duration_s=60,
                                       channels=("ticker_batch",)) if ch == "ticker_batch"]
    assert msgs[0]["events"][0]["type"] == "snapshot"
    updates = msgs[1:]
    assert 3 <= len(updates) <= 12
    for m in updates:
        assert (parse_ns(m["timestamp"]) - START_NS) % (5 * NS) == 0
        assert "best_bid" not in m["events"][0]["tickers"][0]
    prices = [m["events"][0]["tickers"][0]["price"] for m in updates]
    assert all(a != b for a, b in itertools.pairwise(prices))  # only sent when the price changed


def test_shared_log_keeps_what_a_slow_client_still_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    from glue.exchange import sources
    from glue.exchange.session import ProtocolOptions, Session

    monkeypatch.setattr(sources, "TRIM_AT", 50)
    src = sources.SimSource(["BTC-USD"], seed=1, start_ns=START_NS, book_levels=20)
    fast, slow = Session(src, ProtocolOptions()), Session(src, ProtocolOptions())
    fast.join(START_NS)
    slow.join(START_NS)
    seen_fast = [src.get(i).ns for i in range(500)]
    src.note_cursor(id(fast), 500)
    assert [src.get(i).ns for i in range(200)] == seen_fast[:200]  # slow is still at 0: nothing trimmed
    src.note_cursor(id(slow), 300)
    src.note_cursor(id(fast), 500)
    assert src.get(300).ns == seen_fast[300]
    with pytest.raises(RuntimeError):
        src.get(10)  # trimmed: both clients are past it


def test_volatility_series_use_data_at_or_before_t_and_sigma_future_after_t() -> None:
    import numpy as np

    from glue.exchange.calibration import grid_of, volatility_series

    rng = np.random.default_rng(3)
    n = 700
    moves = np.where(rng.random(n) < 0.4, rng.standard_t(3, n) * 0.3, 0.0)

    def series(tail_scale: float) -> dict:
        steps = moves.copy()
        steps[400:] *= tail_scale  # a different future after grid second 399
        mids = 67000 * np.exp(np.cumsum(steps) / 1e4)
        ticks = [Tick(START_NS + i * NS + 5, "BTC-USD", m - 0.005, m + 0.005, 1.0, 1.0)
                 for i, m in enumerate(mids) for _ in range(1 + i % 3)]
        return volatility_series(*grid_of(ticks))

    a, b = series(1.0), series(5.0)
    for key in ("rv60", "rv300", "n60"):
        np.testing.assert_array_equal(a[key][:400], b[key][:400])  # trailing windows: data at or before t
    np.testing.assert_array_equal(a["sigma_future60"][:339], b["sigma_future60"][:339])
    assert not np.allclose(a["sigma_future60"][339:400], b["sigma_future60"][339:400])  # (t, t+60] sees it
    r = a["r"]
    t = 350
    assert math.isclose(a["rv60"][t], np.std(r[t - 59 : t + 1]), rel_tol=1e-9)
    assert math.isclose(a["rv300"][t], np.std(r[t - 299 : t + 1]), rel_tol=1e-9)
    assert math.isclose(a["sigma_future60"][t], np.std(r[t + 1 : t + 61]), rel_tol=1e-9)
    assert a["n60"][t] == sum(1 + i % 3 for i in range(t - 59, t + 1))
    assert np.isnan(a["rv300"][299]) and not np.isnan(a["rv300"][300])  # 300 returns end at second 300
    assert np.isnan(a["sigma_future60"][n - 60]) and not np.isnan(a["sigma_future60"][n - 61])


# Volatility dynamics of the demo's market against the real captures (bench/calibration.py prints both;
# definitions in glue/exchange/calibration.py). Real figures: mel-hsw BTC-USD (11 sessions, 16,862 evaluation
# seconds; the only capture long enough for the slow figures) / the six sets pooled, measured 2026-12-04
# (docs/exchange.md, "Calibration"). Bands: the real figure's spread across the capture sets and the
# simulator's spread across seeds 7, 1, 2 (three hours each); the first calibration of the simulator,
# with regimes and 3 s bursts only, fell outside the bands marked *.
DYNAMICS_BANDS = {
    "log_rv60_acf_60": (0.3, 0.8),  # real 0.52 / 0.62
    "log_rv60_acf_300": (0.1, 0.75),  # real 0.52 / 0.58; * before: -0.05 (BTC)
    "corr_trailing_rv300_future": (0.3, 0.85),  # real 0.66 / 0.71; * before: 0.20 (BTC)
    "corr_intensity_rv60": (0.3, 0.85),  # real 0.65 / 0.66 (sets 0.38 to 0.82, one at -0.22)
    "partial_corr_intensity_future": (-0.05, 0.3),  # real 0.11 / 0.15 (sets -0.21 to 0.37)
    "sigma_f60_over_rv300_p50": (0.6, 1.1),  # real 0.92 / 0.91
    "sigma_f60_over_rv300_p90": (1.2, 2.0),  # real 1.47 / 1.48 (sets 1.25 to 1.85); * before: 2.19 / 2.47
    "reversion_slope_60_300": (-0.2, 0.4),  # real 0.00 / 0.12 (sets -0.29 to 0.68)
    "abs_r_acf_30": (0.02, 0.3),  # real 0.12 / 0.15
}


@pytest.mark.slow
def test_demo_market_volatility_dynamics_are_within_the_real_bands() -> None:
    from glue.exchange.calibration import dynamics_stats

    stream = simulate_frames(["BTC-USD", "ETH-USD"], seed=7, start_ns=parse_ns("2026-01-05T00:00:00Z"),
                             duration_s=180 * 60, channels=("ticker",), book_levels=500)  # as `glue demo`
    stats = dynamics_stats(ticks_from_frames(f for _, f in stream))
    for pid in ("BTC-USD", "ETH-USD"):
        for key, (lo, hi) in DYNAMICS_BANDS.items():
            assert lo <= stats[pid][key] <= hi, f"{pid} {key}={stats[pid][key]:.3f} outside [{lo}, {hi}]"


MEL_HSW = Path(__file__).resolve().parents[3] / "shared" / "data" / "coinbase" / "mel-hsw__cryptoproject-final"


@pytest.mark.slow
@pytest.mark.skipif(not MEL_HSW.is_dir(), reason=f"real captures not present at {MEL_HSW}")
def test_the_bands_hold_the_real_capture_figures() -> None:
    """The documented real figures come from these definitions, and each band holds its real figure."""
    from glue.exchange.calibration import capture_ticks, dynamics_stats

    real = dynamics_stats(capture_ticks(str(MEL_HSW)))["BTC-USD"]
    assert real["sessions"] == 11 and real["eval_seconds"] == 16862
    assert math.isclose(real["log_rv60_acf_300"], 0.518, abs_tol=0.0005)
    assert math.isclose(real["sigma_f60_over_rv300_p90"], 1.47, abs_tol=0.005)
    for key, (lo, hi) in DYNAMICS_BANDS.items():
        assert lo <= real[key] <= hi, f"mel-hsw {key}={real[key]:.3f} outside [{lo}, {hi}]"
