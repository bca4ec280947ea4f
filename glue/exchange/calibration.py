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
                    yield Tick(
                        ns, t["product_id"], float(t["best_bid"]), float(t["best_ask"]),
                        float(t["best_bid_quantity"]), float(t["best_ask_quantity"]),
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


def ticker_stats(ticks: Iterable[Tick]) -> dict[str, dict[str, float]]:
    """Per product: the figures of the calibration table (see the module docstring)."""
    import numpy as np

    by_product: dict[str, list[Tick]] = defaultdict(list)
    for t in ticks:
        by_product[t.product_id].append(t)
    out: dict[str, dict[str, float]] = {}
    for pid, rows in sorted(by_product.items()):
        rows.sort(key=lambda t: t.ns)
        sessions: list[list[Tick]] = [[]]
        for t in rows:
            if sessions[-1] and t.ns - sessions[-1][-1].ns > SESSION_GAP_NS:
                sessions.append([])
            sessions[-1].append(t)
        sessions = [s for s in sessions if s and s[-1].ns - s[0].ns >= MIN_SESSION_NS]
        if not sessions:
            continue
        counts_all, r_all, sigma_all, acs = [], [], [], defaultdict(list)
        spreads, sizes = [], []
        n_msgs = 0
        for s in sessions:
            first = s[0].ns // NS
            n_sec = s[-1].ns // NS - first + 1
            counts = np.zeros(n_sec, dtype=np.int64)
            mids = np.full(n_sec, np.nan)
            for t in s:
                i = t.ns // NS - first
                counts[i] += 1
                mids[i] = (t.bid + t.ask) / 2
                mid = (t.bid + t.ask) / 2
                spreads.append((t.ask - t.bid) / mid * 1e4)
                sizes.extend((t.bid_qty, t.ask_qty))
            n_msgs += len(s)
            # carry the last mid forward
            idx = np.where(~np.isnan(mids), np.arange(n_sec), 0)
            np.maximum.accumulate(idx, out=idx)
            mids = mids[idx]
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
