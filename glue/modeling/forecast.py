"""The volatility forecast model: P(sigma_future >= the label's threshold) from a forecast of sigma_future.

The classifiers (HAR, logistic regression, boosting) learn the 0/1 label: about one row in ten carries
the information, and what they learn is tied to the threshold of the training window. This model
forecasts the quantity the label thresholds instead, as a location-scale regression (the HAR-RV
tradition, Corsi 2009, with activity beside volatility):

    log(sigma_future_bps + EPS) = mu(x) + s(x) * u,   u ~ F (the training residuals' own distribution)

* mu: ridge regression of log sigma_future on the model inputs of `FORECAST_GROUPS` (log realised
  volatility per window, ratios between windows, log tick and trade intensities: `glue.modeling.inputs`);
* s: ridge regression of log |residual| on the same inputs (quiet, sparsely quoted markets have a wider
  spread of outcomes than busy ones);
* F: 1,001 quantiles of the standardised training residuals (no normality assumed).

Then P(spike) = 1 - F((log(threshold + EPS) - mu(x)) / s(x)), with the threshold of each row: tau of its
product (assignment label) or k x its trailing reference (relative label). The threshold is an input
the caller appends as the last column (`label_threshold_bps`), because it depends on the product and
the fitted tau or k, not on the features alone. Everything is fitted on the training window only; like
every model it is then calibrated (sigmoid) on validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from glue.errors import DataError
from glue.modeling.inputs import ModelInputs
from glue.modeling.labels import REF_S, RELATIVE, reference_from_sums
from glue.modeling.tau import POOLED, tau_for

FORECAST_GROUPS = ("log_rv", "rv_ratio", "intensity")
THRESHOLD_COLUMN = "label_threshold_bps"
# sigma_future is 0 when the price does not move for 60 s; 0.01 bps is about a thirtieth of a typical
# BTC-USD value, so log stays finite without flattening the quiet end.
EPS = 0.01
N_QUANTILES = 1001


def label_threshold_bps(label: str, tau_bps: dict[str, float], k: float | None, reference_s: int,
                        products: Sequence[str] | None, X: np.ndarray, columns: list[str]) -> np.ndarray:
    """The label's threshold on sigma_future for each row, in bps (NaN where the label has none).

    assignment: tau of the row's product (`tau.tau_for`: the pooled tau for an unseen product, or for
    every row when `products` is None); relative: k x the trailing reference from the row's
    `rv_<reference_s>s_bps` and `n_ret_<reference_s>s` (`labels.reference_from_sums`, the label's rule).
    """
    if label == RELATIVE:
        rv, n = f"rv_{reference_s}s_bps", f"n_ret_{reference_s}s"
        if k is None or rv not in columns or n not in columns:
            raise DataError(f"the forecast model needs {rv} and {n} for the relative label",
                            "use features of SQL v5 or later, or model.reference_s of a window they hold")
        return k * reference_from_sums(X[:, columns.index(rv)] ** 2, X[:, columns.index(n)], reference_s)
    if products is None:
        return np.full(len(X), tau_bps.get(POOLED, np.nan), dtype=float)
    return tau_for(tau_bps, pd.Series(list(products), dtype=object))


@dataclass(frozen=True)
class LabelSpec:
    """A label with its fitted threshold (tau per product, or k and the reference window)."""

    label: str
    tau_bps: dict[str, float]
    k: float | None = None
    reference_s: int = REF_S

    def thresholds(self, products: Sequence[str] | None, X: np.ndarray, columns: list[str]) -> np.ndarray:
        return label_threshold_bps(self.label, self.tau_bps, self.k, self.reference_s, products, X, columns)


class VolatilityForecast(ClassifierMixin, BaseEstimator):
    """Location-scale forecast of log sigma_future, read as P(sigma_future >= threshold) (module doc).

    X is the raw feature matrix (`columns` in order) plus the threshold in bps as its last column.
    `fit(X, y, sigma_future_bps=...)` needs the continuous target; y only names the classes.
    """

    def __init__(self, columns: list[str] | None = None, groups: tuple[str, ...] = FORECAST_GROUPS,
                 alpha: float = 1.0) -> None:
        self.columns = columns
        self.groups = groups
        self.alpha = alpha

    def _design(self, X: np.ndarray, fit: bool = False) -> np.ndarray:
        Z = self.inputs_.fit(X).transform(X) if fit else self.inputs_.transform(X)
        if fit:
            self.median_ = np.nanmedian(Z, axis=0)
            self.median_[~np.isfinite(self.median_)] = 0.0
        Z = np.where(np.isfinite(Z), Z, self.median_)
        if fit:
            self.mean_, self.std_ = Z.mean(axis=0), Z.std(axis=0)
            self.std_[self.std_ == 0] = 1.0
        return (Z - self.mean_) / self.std_

    @staticmethod
    def _ridge(Z: np.ndarray, t: np.ndarray, alpha: float) -> np.ndarray:
        """Coefficients [intercept, *slopes] of ridge regression on standardised inputs (closed form)."""
        p = Z.shape[1]
        slopes = np.linalg.solve(Z.T @ Z + alpha * np.eye(p), Z.T @ (t - t.mean()))
        return np.concatenate([[t.mean()], slopes])

    def fit(self, X: np.ndarray, y: np.ndarray, sigma_future_bps: np.ndarray | None = None) -> VolatilityForecast:
        if sigma_future_bps is None:
            raise ValueError("VolatilityForecast.fit needs sigma_future_bps (the continuous target)")
        X = np.asarray(X, dtype=np.float64)
        sigma = np.asarray(sigma_future_bps, dtype=np.float64)
        ok = np.isfinite(sigma)
        if ok.sum() < 30:
            raise DataError(f"the forecast model has {int(ok.sum())} rows with sigma_future_bps",
                            "use more data")
        self.classes_ = np.unique(np.asarray(y))
        self.inputs_ = ModelInputs(self.columns, tuple(self.groups))
        Z = self._design(X[ok, :-1], fit=True)
        t = np.log(np.maximum(sigma[ok], 0.0) + EPS)
        self.loc_ = self._ridge(Z, t, self.alpha)
        resid = t - self.loc_[0] - Z @ self.loc_[1:]
        self.scale_ = self._ridge(Z, np.log(np.abs(resid) + 1e-3), self.alpha)
        u = resid / np.exp(self.scale_[0] + Z @ self.scale_[1:])
        self.quantiles_ = np.quantile(u, np.linspace(0.0, 1.0, N_QUANTILES))
        thr = X[ok, -1]
        self.default_threshold_ = float(np.nanmedian(thr)) if np.isfinite(thr).any() else float(np.exp(t.mean()))
        self.n_features_in_ = X.shape[1]
        return self

    def forecast(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mu, s) of log(sigma_future_bps + EPS) per row."""
        Z = self._design(np.asarray(X, dtype=np.float64)[:, :-1])
        return self.loc_[0] + Z @ self.loc_[1:], np.exp(self.scale_[0] + Z @ self.scale_[1:])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        mu, s = self.forecast(X)
        # a row without a label threshold (relative label, reference incomplete) is scored at the
        # training window's median threshold: a probability is still published for every second
        thr = np.where(np.isfinite(X[:, -1]), X[:, -1], self.default_threshold_)
        u = (np.log(np.maximum(thr, 0.0) + EPS) - mu) / s
        p = 1.0 - np.interp(u, self.quantiles_, np.linspace(0.0, 1.0, N_QUANTILES))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
