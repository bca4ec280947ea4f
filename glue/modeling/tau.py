"""The label threshold tau: fitted on the training window only, per product unless configured.

`label = sigma_future_bps >= tau[product]`. tau is the `quantile` of sigma_future_bps over the training
rows; products not seen in training fall back to the pooled training tau (key "*"), and that is logged.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

log = logging.getLogger("glue.modeling.tau")

POOLED = "*"
_WARNED: set[str] = set()  # unseen products already logged by tau_for


def fit_tau(train: pd.DataFrame, quantile: float, per_product: bool = True) -> dict[str, float]:
    """tau in bps per product (and pooled under '*') from training rows with a label value."""
    sigma = train["sigma_future_bps"].astype(float)
    tau = {POOLED: float(np.quantile(sigma.dropna(), quantile))}
    if per_product:
        for product, s in sigma.groupby(train["product_id"], sort=True):
            values = s.dropna()
            if len(values):
                tau[str(product)] = float(np.quantile(values, quantile))
    return tau


def tau_for(tau: dict[str, float], products: pd.Series) -> np.ndarray:
    """The tau of each row's product (pooled for unseen products, logged once per product)."""
    pooled = tau[POOLED]
    unseen = sorted(set(products.unique()) - set(tau) - _WARNED)
    if unseen and len(tau) > 1:
        _WARNED.update(unseen)  # once per product: `glue score` calls this for every batch
        log.warning("tau: product(s) %s not in the training window; using pooled tau %.4f bps", unseen, pooled)
    return products.map(lambda p: tau.get(p, pooled)).to_numpy(dtype=float)


def apply_label(df: pd.DataFrame, tau: dict[str, float]) -> np.ndarray:
    """label = sigma_future_bps >= tau[product] as 0/1 int (rows must have a sigma_future_bps value)."""
    return (df["sigma_future_bps"].to_numpy(dtype=float) >= tau_for(tau, df["product_id"])).astype(np.int8)
