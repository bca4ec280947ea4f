"""The volatility forecast model (glue.modeling.forecast): what it reads, what it learns, how it is scored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glue.modeling.forecast import EPS, VolatilityForecast, label_threshold_bps

WINDOWS = (10, 60, 300, 600)
COLUMNS = [c for w in WINDOWS for c in (f"rv_{w}s_bps", f"n_ret_{w}s", f"ticks_per_s_{w}s")]


def market(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of a volatility that clusters, and the next minute's sigma driven by it."""
    rng = np.random.default_rng(seed)
    log_vol = np.zeros(n)
    for i in range(1, n):
        log_vol[i] = 0.98 * log_vol[i - 1] + 0.2 * rng.normal()
    vol = np.exp(log_vol - 1.0)
    cols = []
    for w in WINDOWS:
        rv = vol * np.sqrt(w) * np.exp(0.3 / np.sqrt(w) * rng.normal(size=n))
        cols += [rv, np.full(n, float(w)), vol * 2 + 0.1 * rng.random(n)]
    sigma = vol * np.exp(0.25 * rng.normal(size=n))
    return np.column_stack(cols), sigma


def with_threshold(X: np.ndarray, thr: float | np.ndarray) -> np.ndarray:
    return np.column_stack([X, np.broadcast_to(thr, (len(X),))])


def fitted(X: np.ndarray, sigma: np.ndarray, tau: float) -> VolatilityForecast:
    return VolatilityForecast(COLUMNS).fit(with_threshold(X, tau), (sigma >= tau).astype(int), sigma_future_bps=sigma)


def test_probability_falls_as_the_threshold_rises_and_ranks_the_label():
    X, sigma = market()
    tau = float(np.quantile(sigma[:3000], 0.9))
    model = fitted(X[:3000], sigma[:3000], tau)
    low, high = (model.predict_proba(with_threshold(X[3000:], t))[:, 1] for t in (tau / 2, tau * 2))
    assert np.all(low >= high) and low.mean() > high.mean()
    from sklearn.metrics import roc_auc_score

    p = model.predict_proba(with_threshold(X[3000:], tau))[:, 1]
    assert roc_auc_score(sigma[3000:] >= tau, p) > 0.8  # the clustered volatility is forecast
    assert np.all((p >= 0) & (p <= 1)) and p.shape == (1000,)


def test_a_threshold_as_a_row_input_is_read_per_row():
    X, sigma = market()
    model = fitted(X[:3000], sigma[:3000], 1.0)
    thr = np.where(np.arange(1000) % 2 == 0, 0.2, 5.0)
    p = model.predict_proba(with_threshold(X[3000:], thr))[:, 1]
    p_low = model.predict_proba(with_threshold(X[3000:], 0.2))[:, 1]
    assert np.allclose(p[::2], p_low[::2]) and np.all(p[1::2] <= p_low[1::2])
    # a row without a threshold (relative label, incomplete reference) still gets a probability
    assert np.isfinite(model.predict_proba(with_threshold(X[3000:3005], np.nan))).all()


def test_it_is_fitted_on_sigma_future_of_the_training_rows_only_and_deterministically():
    X, sigma = market()
    a = fitted(X[:3000], sigma[:3000], 1.0)
    b = fitted(X[:3000], sigma[:3000], 1.0)
    later = sigma.copy()
    later[3000:] *= 100  # rows after the training window cannot move the model
    c = fitted(X[:3000], later[:3000], 1.0)
    Xt = with_threshold(X[3000:], 1.0)
    assert np.array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    assert np.array_equal(a.predict_proba(Xt), c.predict_proba(Xt))
    with pytest.raises(ValueError, match="sigma_future_bps"):
        VolatilityForecast(COLUMNS).fit(with_threshold(X, 1.0), np.zeros(len(X)))


def test_zero_sigma_future_stays_finite():
    X, sigma = market()
    sigma[::7] = 0.0  # a minute without a price change
    model = fitted(X, sigma, 0.5)
    mu, s = model.forecast(with_threshold(X, 0.5))
    assert np.isfinite(mu).all() and (s > 0).all() and mu.min() > np.log(EPS) - 5


def test_label_threshold_is_tau_per_product_or_k_times_the_reference():
    X = np.array([[2.0 * np.sqrt(600), 600.0], [4.0 * np.sqrt(540), 540.0], [1.0, 100.0]])
    cols = ["rv_600s_bps", "n_ret_600s"]
    tau = {"*": 1.0, "BTC-USD": 2.0}
    got = label_threshold_bps("assignment", tau, None, 600, ["BTC-USD", "SOL-USD", "BTC-USD"], X, cols)
    assert list(got) == [2.0, 1.0, 2.0]  # an unseen product gets the pooled tau
    assert list(label_threshold_bps("assignment", tau, None, 600, None, X, cols)) == [1.0, 1.0, 1.0]
    rel = label_threshold_bps("relative", tau, 1.5, 600, None, X, cols)
    assert rel[:2] == pytest.approx([3.0, 6.0]) and np.isnan(rel[2])  # 100 of 600 returns: no reference
    from glue.errors import DataError

    with pytest.raises(DataError, match="rv_900s_bps"):
        label_threshold_bps("relative", tau, 1.5, 900, None, X, cols)


def test_the_reference_agrees_with_the_relative_label():
    from glue.modeling.labels import reference_vol

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"product_id": "BTC-USD", "second_at": pd.date_range("2026-01-01", periods=50, freq="s"),
                       "rv_600s_bps": rng.random(50) * 30, "n_ret_600s": rng.integers(500, 601, 50).astype(float)})
    thr = label_threshold_bps("relative", {}, 1.0, 600, None, df[["rv_600s_bps", "n_ret_600s"]].to_numpy(),
                              ["rv_600s_bps", "n_ret_600s"])
    assert np.allclose(thr, reference_vol(df, 600), equal_nan=True)
