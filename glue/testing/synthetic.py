"""Synthetic 1-second feature frames with regimes, for tests, the notebook and the benchmark.

Owns one thing: a fast, seeded generator of a frame with the shape of the warehouse's training view
(`docs/contracts.md` section 5): keys, numeric features with units in their names, gap flags and
`sigma_future_bps`. The mid-price process is a stochastic-volatility model (AR(1) log-volatility, so
volatility clusters) times a two-state regime (quiet/active), with mostly unchanged mids and
heavy-tailed jumps, as `market-calibration.md` describes real Coinbase data. It is not the market
simulator (that is `glue.exchange`); it exists so the modelling code can be tested without the SQL
pipeline, and it uses the same column semantics so the code runs unchanged on real feature files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HORIZON_S = 60
WINDOWS_S = (10, 30, 60, 300)


def _ar1(noise: np.ndarray, phi: float) -> np.ndarray:
    """x_t = phi * x_{t-1} + noise_t (an IIR filter, so no Python loop per row)."""
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -phi], noise)


def _regimes(rng: np.random.Generator, n: int, mean_dwell_s: float) -> np.ndarray:
    """A two-state Markov regime path (0 quiet, 1 active) with geometric dwell times."""
    states = np.empty(n, dtype=np.int8)
    pos, state = 0, int(rng.random() < 0.3)
    while pos < n:
        dwell = int(rng.geometric(1.0 / (mean_dwell_s * (0.6 if state else 1.4)))) + 1
        states[pos : pos + dwell] = state
        pos += dwell
        state = 1 - state
    return states


def _product_frame(rng: np.random.Generator, product: str, start_at: pd.Timestamp, seconds: int,
                   base_vol_bps: float, price: float, n_gaps: int, sql_version: str) -> pd.DataFrame:
    n = seconds
    regime = _regimes(rng, n, mean_dwell_s=1800.0)
    log_vol = _ar1(rng.normal(0.0, 0.1, n), phi=0.995)
    vol_bps = base_vol_bps * np.exp(log_vol) * np.where(regime == 1, 3.0, 1.0)
    # Most seconds the mid does not move; when it moves it jumps (Student-t, heavy tails).
    moves = rng.random(n) < np.clip(0.25 + 0.25 * regime, 0, 1)
    jumps = rng.standard_t(3, n) / np.sqrt(3.0)
    ret_bps = np.where(moves, jumps * vol_bps / np.sqrt(0.25 + 0.25 * regime), 0.0)
    ret = pd.Series(ret_bps)

    frame: dict[str, object] = {
        "product_id": product,
        "second_at": start_at + pd.to_timedelta(np.arange(n), unit="s"),
        "sql_version": sql_version,
    }
    for w in WINDOWS_S:
        frame[f"rv_{w}s_bps"] = ret.rolling(w, min_periods=2).std(ddof=0).to_numpy()
    for w in (10, 60):
        frame[f"ret_{w}s_bps"] = ret.rolling(w, min_periods=1).sum().to_numpy()
    frame["abs_ret_1s_bps"] = np.abs(ret_bps)
    tick_bps = 0.01 / price * 1e4
    wide = rng.random(n) < 0.02 + 0.05 * regime
    frame["spread_bps"] = np.where(wide, tick_bps * rng.integers(2, 40, n), tick_bps)
    trades = rng.poisson(1.0 + 2.0 * vol_bps / base_vol_bps)
    frame["trades_30s"] = pd.Series(trades).rolling(30, min_periods=1).sum().to_numpy()
    frame["updates_10s"] = pd.Series(rng.poisson(3.0 + 2 * regime)).rolling(10, min_periods=1).sum().to_numpy()
    # Label: population std of returns over (t, t+60 s].
    fut = ret.rolling(HORIZON_S, min_periods=HORIZON_S).std(ddof=0).shift(-HORIZON_S)
    frame["sigma_future_bps"] = fut.to_numpy()
    df = pd.DataFrame(frame)

    # Data gaps: rows missing for 20-120 s; flags on rows whose trailing window touches the gap;
    # no label where the horizon crosses it.
    keep = np.ones(n, dtype=bool)
    gap_flags = {w: np.zeros(n, dtype=bool) for w in (60, 300)}
    for _ in range(n_gaps):
        g0 = int(rng.integers(600, max(601, n - 600)))
        g1 = g0 + int(rng.integers(20, 120))
        keep[g0:g1] = False
        df.loc[max(0, g0 - HORIZON_S) : g0 - 1, "sigma_future_bps"] = np.nan
        for w, flags in gap_flags.items():
            flags[g1 : g1 + w] = True
    for w, flags in gap_flags.items():
        df[f"has_gap_{w}s"] = flags
    return df[keep].reset_index(drop=True)


def synthetic_features(products: tuple[str, ...] = ("BTC-USD", "ETH-USD"), seconds: int = 6 * 3600,
                       seed: int = 7, start_at: str = "2026-01-05T00:00:00", n_gaps: int = 2,
                       sql_version: str = "") -> pd.DataFrame:
    """A training-view-shaped frame: one row per product per second, sorted by (second_at, product_id).

    `sql_version` labels the rows (default: the SQL manifest's current version, as the pipeline's own rows
    would be), so a model trained on it matches the features `glue featurize` emits today.
    Same arguments (and the same current version) -> byte-identical frame. About 1 s per million rows.
    """
    if not sql_version:
        from glue.modeling.data import current_sql_version

        sql_version = current_sql_version()
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(start_at)
    params = {"BTC-USD": (0.30, 67000.0), "ETH-USD": (0.35, 2050.0)}
    frames = []
    for i, product in enumerate(products):
        base_vol, price = params.get(product, (0.3 + 0.05 * i, 100.0))
        frames.append(_product_frame(rng, product, start, seconds, base_vol, price, n_gaps, sql_version))
    df = pd.concat(frames, ignore_index=True)
    df["second_at"] = df["second_at"].astype("datetime64[us]")
    return df.sort_values(["second_at", "product_id"], kind="stable").reset_index(drop=True)
