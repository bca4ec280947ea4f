"""The market-calibration statistics of `../shared/docs/market-calibration.md`, computed the same way.

Owns the definitions, so the simulator's test, the benchmark and anyone comparing with the real
captures measure the same thing:
* sessions: cut where no ticker message arrives for more than 60 s; sessions under 3 minutes dropped;
* a 1-second grid per session: the last mid (= (best_bid + best_ask) / 2) in each second, carried
  forward; r = ln(mid_t / mid_{t-1}) in bps;
* updates/s = ticker messages per product per grid second; sigma_future60 = population std of r over
  the next 60 grid seconds; |r| autocorrelation = Pearson at a lag, averaged over sessions.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from glue.records import parse_rfc3339_ns

NS = 1_000_000_000
SESSION_GAP_NS = 60 * NS
MIN_SESSION_NS = 180 * NS


@dataclass(frozen=True, slots=True)
class Tick:
    ns: int
    product_id: str
    bid: float
    ask: float
    bid_qty: float
    ask_qty: float


def ticks_from_frames(frames: Iterable[str]) -> Iterator[Tick]:
    """Ticker rows from raw frame texts (other channels and bad frames are ignored)."""
    for text in frames:
        if '"ticker"' not in text:
            continue
        try:
            obj = json.loads(text)
            if obj.get("channel") != "ticker":
                continue
            ns = parse_rfc3339_ns(obj["timestamp"])
            for event in obj["events"]:
                for t in event.get("tickers") or ():
                    # Some captures kept no top-of-book sizes: nan, and the size figures skip them.
                    yield Tick(
                        ns, t["product_id"], float(t["best_bid"]), float(t["best_ask"]),
                        float(t.get("best_bid_quantity", "nan")), float(t.get("best_ask_quantity", "nan")),
                    )
        except (ValueError, KeyError, TypeError):
            continue


def _pct(values, q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if len(values) else float("nan")


def _autocorr(x, lag: int) -> float:
    import numpy as np

    if len(x) <= lag + 2:
        return float("nan")
    a, b = x[:-lag], x[lag:]
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def by_product(ticks: Iterable[Tick]) -> dict[str, list[Tick]]:
    """Ticks per product, in time order."""
    out: dict[str, list[Tick]] = defaultdict(list)
    for t in ticks:
        out[t.product_id].append(t)
    for rows in out.values():
        rows.sort(key=lambda t: t.ns)
    return dict(sorted(out.items()))


def sessions_of(rows: list[Tick]) -> list[list[Tick]]:
    """One product's ticks cut into sessions (gap > 60 s), sessions under 3 minutes dropped."""
    sessions: list[list[Tick]] = [[]]
    for t in rows:
        if sessions[-1] and t.ns - sessions[-1][-1].ns > SESSION_GAP_NS:
            sessions.append([])
        sessions[-1].append(t)
    return [s for s in sessions if s and s[-1].ns - s[0].ns >= MIN_SESSION_NS]


def grid_of(session: list[Tick]):
    """(updates per grid second, mid per grid second carried forward) of one session."""
    import numpy as np

    first = session[0].ns // NS
    n_sec = session[-1].ns // NS - first + 1
    counts = np.zeros(n_sec, dtype=np.int64)
    mids = np.full(n_sec, np.nan)
    for t in session:
        i = t.ns // NS - first
        counts[i] += 1
        mids[i] = (t.bid + t.ask) / 2
    idx = np.where(~np.isnan(mids), np.arange(n_sec), 0)
    np.maximum.accumulate(idx, out=idx)
    return counts, mids[idx]


def ticker_stats(ticks: Iterable[Tick]) -> dict[str, dict[str, float]]:
    """Per product: the figures of the calibration table (see the module docstring)."""
    import numpy as np

    out: dict[str, dict[str, float]] = {}
    for pid, rows in by_product(ticks).items():
        sessions = sessions_of(rows)
        if not sessions:
            continue
        counts_all, r_all, sigma_all, acs = [], [], [], defaultdict(list)
        spreads, sizes = [], []
        n_msgs = 0
        for s in sessions:
            for t in s:
                mid = (t.bid + t.ask) / 2
                spreads.append((t.ask - t.bid) / mid * 1e4)
                if t.bid_qty == t.bid_qty and t.ask_qty == t.ask_qty:  # not nan
                    sizes.extend((t.bid_qty, t.ask_qty))
            n_msgs += len(s)
            counts, mids = grid_of(s)
            r = np.diff(np.log(mids)) * 1e4
            counts_all.append(counts)
            r_all.append(r)
            absr = np.abs(r)
            for lag in (1, 5, 30, 60):
                acs[lag].append(_autocorr(absr, lag))
            if len(r) > 60:
                windows = np.lib.stride_tricks.sliding_window_view(r, 60)
                sigma_all.append(windows[1:].std(axis=1))  # r over (t, t+60]
        counts = np.concatenate(counts_all)
        r = np.concatenate(r_all)
        sigma = np.concatenate(sigma_all) if sigma_all else np.array([])
        std = float(r.std())
        kurt = float(((r - r.mean()) ** 4).mean() / std**4 - 3) if std > 0 else float("nan")
        stats = {
            "sessions": len(sessions),
            "hours": sum(s[-1].ns - s[0].ns for s in sessions) / NS / 3600,
            "messages": n_msgs,
            "updates_per_s_mean": float(counts.mean()),
            "updates_per_s_p99": _pct(counts, 99),
            "updates_per_s_max": float(counts.max()),
            "seconds_no_update_pct": float((counts == 0).mean() * 100),
            "spread_bps_p50": _pct(spreads, 50),
            "spread_bps_p90": _pct(spreads, 90),
            "spread_bps_p99": _pct(spreads, 99),
            "return_std_bps": std,
            "return_excess_kurtosis": kurt,
            "zero_mid_change_pct": float((r == 0).mean() * 100),
            "sigma_future60_p50": _pct(sigma, 50),
            "sigma_future60_p90": _pct(sigma, 90),
            "sigma_future60_p95": _pct(sigma, 95),
            "sigma_future60_p99": _pct(sigma, 99),
            "top_size_p50": _pct(sizes, 50),
            "top_size_p90": _pct(sizes, 90),
        }
        for lag, vals in acs.items():
            finite = [v for v in vals if not math.isnan(v)]
            stats[f"abs_r_autocorr_lag{lag}"] = float(np.mean(finite)) if finite else float("nan")
        out[pid] = stats
    return out


# The real captures' figures (market-calibration.md), for side-by-side tables.
TARGETS: dict[str, dict[str, float]] = {
    "mel-hsw BTC-USD": {
        "updates_per_s_mean": 3.51, "updates_per_s_p99": 8, "updates_per_s_max": 16,
        "seconds_no_update_pct": 8.6, "spread_bps_p50": 0.001, "spread_bps_p90": 0.26, "spread_bps_p99": 0.59,
        "return_std_bps": 0.447, "return_excess_kurtosis": 33, "zero_mid_change_pct": 52,
        "abs_r_autocorr_lag1": 0.10, "abs_r_autocorr_lag5": 0.02, "abs_r_autocorr_lag30": 0.01,
        "abs_r_autocorr_lag60": 0.03, "sigma_future60_p50": 0.31, "sigma_future60_p90": 0.69,
        "sigma_future60_p95": 0.86, "sigma_future60_p99": 1.17, "top_size_p50": 0.026, "top_size_p90": 0.195,
    },
    "Rushabh2704 BTC-USD": {
        "updates_per_s_mean": 3.45, "updates_per_s_p99": 7, "updates_per_s_max": 8,
        "seconds_no_update_pct": 5.2, "spread_bps_p50": 0.001, "spread_bps_p90": 0.001, "spread_bps_p99": 0.004,
        "return_std_bps": 0.145, "return_excess_kurtosis": 90, "zero_mid_change_pct": 94,
        "abs_r_autocorr_lag1": 0.04, "abs_r_autocorr_lag5": 0.00, "abs_r_autocorr_lag30": 0.00,
        "abs_r_autocorr_lag60": 0.03, "sigma_future60_p50": 0.13, "sigma_future60_p90": 0.27,
        "sigma_future60_p95": 0.27, "sigma_future60_p99": 0.29, "top_size_p50": 0.20, "top_size_p90": 0.63,
    },
    "streakh ETH-USD": {
        "updates_per_s_mean": 1.61, "updates_per_s_p99": 5, "updates_per_s_max": 7,
        "seconds_no_update_pct": 26.2, "spread_bps_p50": 0.049, "spread_bps_p90": 0.049, "spread_bps_p99": 0.24,
        "return_std_bps": 0.133, "return_excess_kurtosis": 61, "zero_mid_change_pct": 91,
        "abs_r_autocorr_lag1": 0.08, "abs_r_autocorr_lag5": 0.01, "abs_r_autocorr_lag30": -0.03,
        "abs_r_autocorr_lag60": 0.00, "sigma_future60_p50": 0.11, "sigma_future60_p90": 0.21,
        "sigma_future60_p95": 0.22, "sigma_future60_p99": 0.23, "top_size_p50": 2.0, "top_size_p90": 4.1,
    },
}

ROWS = (
    "updates_per_s_mean", "updates_per_s_p99", "updates_per_s_max", "seconds_no_update_pct",
    "spread_bps_p50", "spread_bps_p90", "spread_bps_p99", "return_std_bps", "return_excess_kurtosis",
    "zero_mid_change_pct", "abs_r_autocorr_lag1", "abs_r_autocorr_lag5", "abs_r_autocorr_lag30",
    "abs_r_autocorr_lag60", "sigma_future60_p50", "sigma_future60_p90", "sigma_future60_p95",
    "sigma_future60_p99", "top_size_p50", "top_size_p90",
)


def format_table(measured: dict[str, dict[str, float]]) -> str:
    """A markdown table: measured columns beside the real captures' figures."""
    cols = [(f"sim {k}", v) for k, v in measured.items()] + [(f"real {k}", v) for k, v in TARGETS.items()]
    lines = ["| statistic | " + " | ".join(c for c, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for row in ROWS:
        cells = []
        for _, stats in cols:
            v = stats.get(row, float("nan"))
            cells.append("" if v != v else (f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- volatility dynamics: clustering, mean reversion of vol ratios, intensity leading volatility ------------
#
# On the same per-session 1-second grid, with r_t the return ending at grid second t (bps):
# * RV_w(t) = population std of r over the trailing (t-w, t] (data at or before t), like sigma_future60's
#   std over (t, t+60]; n60(t) = ticker updates in the trailing 60 grid seconds;
# * evaluation seconds t: RV_300 complete (t >= 300 s into the session) and sigma_future60 complete;
#   the RV_1800 figures use the seconds where RV_1800 is complete as well;
# * logs take EPS_BPS added (RV of a window without a mid change is 0); a "vol ratio" is
#   log((RV_60 + EPS) / (RV_long + EPS));
# * correlations pool the (t, t + lag) pairs of every session (a pair never crosses a session), so a
#   set's or the pooled figure weighs each evaluation second equally;
# * half-life of the 60 s / 300 s vol ratio = 60 s * ln 2 / -ln(its autocorrelation at lag 60 s);
# * reversion slope = OLS slope of log((sigma_future60 + EPS) / (RV_300 + EPS)) on the current ratio
#   log((RV_60 + EPS) / (RV_300 + EPS)): 1 = today's ratio persists, 0 = the next minute reverts fully to
#   the 300 s level, <0 = overshoot;
# * partial corr of intensity = correlation of log(1 + n60) and log(sigma_future60 + EPS) after both are
#   regressed on log RV_60 and log RV_300 (what intensity adds to trailing volatility);
# * sigma_future60 / RV_300 quantiles, where RV_300 > 0 (the regime-relative label's ratio).

EPS_BPS = 0.01
DYN_ABS_R_LAGS = (1, 5, 30, 60, 300)
DYN_RV_LAGS = (60, 300, 900)


@dataclass
class _Series:
    """One session's series for the pooled figures."""

    abs_r: object  # |r| per grid second
    rv60: object  # trailing RV_60 per grid second (nan where incomplete)
    ratio300: object  # log vol ratio 60/300 per grid second (nan where incomplete)
    rows: object  # evaluation seconds x (log RV60, log RV300, log RV1800, log(1 + n60), sigma_f60, target, RV300)


def _rolling_std(r, w: int):
    """Population std of r over (i-w, i] for each index i (nan before w values exist)."""
    import numpy as np

    out = np.full(len(r), np.nan)
    if len(r) < w:
        return out
    c1 = np.concatenate(([0.0], np.cumsum(r)))
    c2 = np.concatenate(([0.0], np.cumsum(r * r)))
    s1 = c1[w:] - c1[:-w]
    s2 = c2[w:] - c2[:-w]
    var = s2 / w - (s1 / w) ** 2
    var[var < 1e-12] = 0.0  # windows of unchanged mids: exactly 0, not rounding noise
    out[w - 1:] = np.sqrt(var)
    return out


def volatility_series(counts, mids) -> dict[str, object]:
    """Per grid second t of one session: r, RV_60/300/1800 over (t-w, t], sigma_future60 over (t, t+60], n60.

    Arrays are indexed by grid second (0 = the session's first); nan where a window is incomplete.
    """
    import numpy as np

    n = len(mids)
    r = np.full(n, np.nan)
    r[1:] = np.diff(np.log(mids)) * 1e4
    out: dict[str, object] = {"r": r}
    for w in (60, 300, 1800):
        rv = np.full(n, np.nan)
        rv[1:] = _rolling_std(r[1:], w)  # _rolling_std's index i is grid second i + 1
        out[f"rv{w}"] = rv
    fut = np.full(n, np.nan)
    if n > 60:
        fut[: n - 60] = out["rv60"][60:]
    out["sigma_future60"] = fut
    n60 = np.full(n, np.nan)
    if n >= 60:
        c = np.concatenate(([0], np.cumsum(counts)))
        n60[59:] = c[60:] - c[:-60]
    out["n60"] = n60
    return out


def _session_series(counts, mids) -> _Series:
    import numpy as np

    v = volatility_series(counts, mids)
    rv60, rv300, rv1800, fut = v["rv60"], v["rv300"], v["rv1800"], v["sigma_future60"]
    lr60, lr300, lr1800 = (np.log(x + EPS_BPS) for x in (rv60, rv300, rv1800))
    ok = ~np.isnan(rv300) & ~np.isnan(fut)
    target = np.log(fut + EPS_BPS) - lr300
    rows = np.column_stack([lr60, lr300, lr1800, np.log1p(v["n60"]), fut, target, rv300])[ok]
    return _Series(np.abs(v["r"]), rv60, lr60 - lr300, rows)


def _pairs(series: list, lag: int, transform=None):
    import numpy as np

    a, b = [], []
    for x in series:
        if len(x) > lag:
            xa, xb = x[:-lag], x[lag:]
            keep = ~np.isnan(xa) & ~np.isnan(xb)
            a.append(xa[keep])
            b.append(xb[keep])
    if not a:
        return np.array([]), np.array([])
    a, b = np.concatenate(a), np.concatenate(b)
    if transform is not None:
        a, b = transform(a), transform(b)
    return a, b


def _corr(a, b) -> float:
    import numpy as np

    if len(a) < 30 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _resid(y, x):
    import numpy as np

    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ coef


def dynamics_from_series(series: list[_Series]) -> dict[str, float]:
    """The volatility-dynamics figures (see the comment above) of a list of sessions, pooled."""
    import numpy as np

    out: dict[str, float] = {"sessions": len(series)}
    for lag in DYN_ABS_R_LAGS:
        out[f"abs_r_acf_{lag}"] = _corr(*_pairs([s.abs_r for s in series], lag))
    for lag in DYN_RV_LAGS:
        out[f"log_rv60_acf_{lag}"] = _corr(*_pairs([s.rv60 for s in series], lag,
                                                   lambda v: np.log(v + EPS_BPS)))
    ratio_ac = _corr(*_pairs([s.ratio300 for s in series], 60))
    out["ratio_60_300_acf_60"] = ratio_ac
    out["ratio_60_300_acf_300"] = _corr(*_pairs([s.ratio300 for s in series], 300))
    out["ratio_half_life_s"] = 60 * math.log(2) / -math.log(ratio_ac) if 0 < ratio_ac < 1 else float("nan")
    rows = np.concatenate([s.rows for s in series]) if series else np.empty((0, 7))
    out["eval_seconds"] = len(rows)
    if len(rows) < 60:
        return out
    lr60, lr300, lr1800, lint, fut, target, rv300 = rows.T
    lfut = np.log(fut + EPS_BPS)
    x = lr60 - lr300
    out["reversion_slope_60_300"] = float(np.polyfit(x, target, 1)[0]) if x.std() > 0 else float("nan")
    out["corr_trailing_rv60_future"] = _corr(lr60, lfut)
    out["corr_trailing_rv300_future"] = _corr(lr300, lfut)
    out["corr_intensity_future"] = _corr(lint, lfut)
    out["corr_intensity_rv60"] = _corr(lint, lr60)
    both = np.column_stack([lr60, lr300])
    out["partial_corr_intensity_future"] = _corr(_resid(lint, both), _resid(lfut, both))
    pos = rv300 > 0
    ratio = fut[pos] / rv300[pos]
    out["sigma_f60_over_rv300_p50"] = _pct(ratio, 50)
    out["sigma_f60_over_rv300_p90"] = _pct(ratio, 90)
    long = ~np.isnan(lr1800)
    out["eval_seconds_1800"] = int(long.sum())
    if long.sum() >= 600:
        x18 = lr60[long] - lr1800[long]
        y18 = lfut[long] - lr1800[long]
        out["reversion_slope_60_1800"] = float(np.polyfit(x18, y18, 1)[0])
        rv1800 = np.exp(lr1800[long]) - EPS_BPS
        keep = rv1800 > 1e-9
        out["sigma_f60_over_rv1800_p90"] = _pct(fut[long][keep] / rv1800[keep], 90)
    return out


def dynamics_series(ticks: Iterable[Tick]) -> dict[str, list[_Series]]:
    """Per product: the sessions' per-second series (pool several products' lists to pool them)."""
    return {pid: [_session_series(*grid_of(s)) for s in sessions_of(rows)]
            for pid, rows in by_product(ticks).items()}


def dynamics_stats(ticks: Iterable[Tick]) -> dict[str, dict[str, float]]:
    """Per product: the volatility-dynamics figures."""
    return {pid: dynamics_from_series(series) for pid, series in dynamics_series(ticks).items() if series}


def capture_ticks(capture_dir: str) -> list[Tick]:
    """The ticker rows of one capture set, read by `glue import` (every format it knows, duplicates removed)."""
    import tempfile

    from glue.importer import import_captures
    from glue.records import KIND_FRAME, read_archive

    with tempfile.TemporaryDirectory(prefix="glue-calib-") as tmp:
        summary = import_captures([capture_dir], tmp)
        frames = (rec.frame for rec in read_archive(summary.archive_files) if rec.kind == KIND_FRAME)
        return list(ticks_from_frames(f for f in frames if f is not None))


DYNAMICS_ROWS = (
    "sessions", "eval_seconds", *(f"abs_r_acf_{lag}" for lag in DYN_ABS_R_LAGS),
    *(f"log_rv60_acf_{lag}" for lag in DYN_RV_LAGS), "ratio_60_300_acf_60", "ratio_60_300_acf_300",
    "ratio_half_life_s", "reversion_slope_60_300", "corr_trailing_rv60_future", "corr_trailing_rv300_future",
    "corr_intensity_future", "corr_intensity_rv60", "partial_corr_intensity_future",
    "sigma_f60_over_rv300_p50", "sigma_f60_over_rv300_p90", "eval_seconds_1800", "reversion_slope_60_1800",
    "sigma_f60_over_rv1800_p90",
)
