"""The two labels: the assignment's absolute one and the regime-relative one.

Owns the label formulas the modelling code applies to training-view rows (docs/models.md, "Labels"):

* **assignment**: `sigma_future_bps >= tau[product]`, tau the `quantile` of sigma_future_bps over the
  training window (`glue.modeling.tau`).
* **relative**: `ratio = sigma_future_bps / ref_vol_bps`, spike when `ratio >= k`, k the `quantile` of
  the ratio over the training window (pooled: the ratio is scale-free). `ref_vol_bps` is the causal
  trailing reference of the same product: the root mean square of the valid 1-s returns over the
  `ref_s` seconds ending at t (data in (t - ref_s, t], nothing after t),
  `ref_vol_bps = sqrt(sum q^2 / n)`. When the features hold `rv_<ref_s>s_bps` and `n_ret_<ref_s>s`
  (SQL v5) they are used directly; on earlier versions the sums are assembled exactly from the rows
  t, t - W, ..., t - ref_s + W of the longest window W dividing ref_s (`rv_W^2` adds up: disjoint
  windows of squared returns). No relative label where the reference is incomplete: fewer than
  `min_cover * ref_s` valid returns (a gap, the warm-up of a capture) or a reference of zero.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from glue.errors import DataError
from glue.modeling.tau import apply_label, fit_tau

ASSIGNMENT, RELATIVE = "assignment", "relative"
LABELS = (ASSIGNMENT, RELATIVE)
REF_S = 600
MIN_COVER = 0.9
RATIO = "_relative_ratio"  # bookkeeping column holding the ratio (never a feature: data.LABEL_COLUMNS)


def reference_vol(df: pd.DataFrame, ref_s: int = REF_S, min_cover: float = MIN_COVER) -> np.ndarray:
    """ref_vol_bps per row (NaN where the reference window is incomplete); rows need not be sorted."""
    if f"rv_{ref_s}s_bps" in df.columns and f"n_ret_{ref_s}s" in df.columns:
        ss = df[f"rv_{ref_s}s_bps"].to_numpy(dtype=float) ** 2
        n = df[f"n_ret_{ref_s}s"].to_numpy(dtype=float)
    else:
        windows = sorted(int(m.group(1)) for c in df.columns if (m := re.fullmatch(r"rv_(\d+)s_bps", c))
                         and f"n_ret_{m.group(1)}s" in df.columns and ref_s % int(m.group(1)) == 0)
        if not windows:
            raise DataError(f"no rv_<w>s_bps / n_ret_<w>s window divides the reference of {ref_s} s",
                            "use features of SQL v4 or later")
        w = windows[-1]
        keys = df[["product_id", "second_at"]].copy()
        part = df[["product_id", "second_at"]].copy()
        part["ss"] = df[f"rv_{w}s_bps"].to_numpy(dtype=float) ** 2
        part["n"] = df[f"n_ret_{w}s"].to_numpy(dtype=float)
        ss = np.zeros(len(df))
        n = np.zeros(len(df))
        for k in range(ref_s // w):
            lagged = part.assign(second_at=part["second_at"] + pd.Timedelta(seconds=k * w))
            got = keys.merge(lagged, on=["product_id", "second_at"], how="left")
            ss += np.nan_to_num(got["ss"].to_numpy(dtype=float))
            n += np.nan_to_num(got["n"].to_numpy(dtype=float))
    return reference_from_sums(ss, n, ref_s, min_cover)


def reference_from_sums(ss: np.ndarray | float, n: np.ndarray | float, ref_s: int = REF_S,
                        min_cover: float = MIN_COVER) -> np.ndarray:
    """sqrt(ss / n) from the sum of squared 1-s returns `ss` (rv_<ref_s>s_bps squared) and their count `n`;
    NaN where fewer than `min_cover * ref_s` returns are valid or the reference is zero. The one rule the
    label, the forecast model's threshold and the live view's threshold line share."""
    ss, n = np.asarray(ss, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = np.sqrt(ss / n)
    return np.where((n < min_cover * ref_s) | ~(ref > 0), np.nan, ref)


def relative_ratio(df: pd.DataFrame, ref_s: int = REF_S, min_cover: float = MIN_COVER) -> np.ndarray:
    """sigma_future_bps / ref_vol_bps (NaN where either is missing)."""
    return df["sigma_future_bps"].to_numpy(dtype=float) / reference_vol(df, ref_s, min_cover)


def fit_k(ratio_train: np.ndarray, quantile: float) -> float:
    """k: the `quantile` of the training window's ratios (labelled rows only)."""
    values = ratio_train[np.isfinite(ratio_train)]
    if len(values) == 0:
        raise DataError("no row of the training window has a complete reference window",
                        f"use captures longer than the reference ({REF_S} s) or a shorter reference")
    return float(np.quantile(values, quantile))


def apply_k(ratio: np.ndarray, k: float) -> np.ndarray:
    """label = ratio >= k as 0/1 int (rows must have a ratio)."""
    return (ratio >= k).astype(np.int8)


def fit_threshold(label: str, train: pd.DataFrame, quantile: float, per_product: bool = True) -> dict[str, float]:
    """The label's threshold from training rows only: tau per product (assignment) or {"k": k} (relative,
    from the RATIO column, which `with_ratio` adds)."""
    if label == RELATIVE:
        return {"k": fit_k(train[RATIO].to_numpy(dtype=float), quantile)}
    return fit_tau(train, quantile, per_product)


def apply_threshold(label: str, rows: pd.DataFrame, threshold: dict[str, float]) -> np.ndarray:
    """0/1 labels of `rows` (each must have the label's value) under a threshold from `fit_threshold`."""
    if label == RELATIVE:
        return apply_k(rows[RATIO].to_numpy(dtype=float), threshold["k"])
    return apply_label(rows, threshold)


def with_ratio(df: pd.DataFrame, ref_s: int = REF_S) -> pd.DataFrame:
    """`df` with the RATIO column (computed over the whole frame: the reference reads the rows before t)."""
    return df.assign(**{RATIO: relative_ratio(df, ref_s)})


def has_label(label: str, df: pd.DataFrame) -> np.ndarray:
    """Rows that carry this label: sigma_future_bps present, and for the relative one a complete reference."""
    if label == RELATIVE:
        return np.isfinite(df[RATIO].to_numpy(dtype=float))
    return df["sigma_future_bps"].notna().to_numpy()
