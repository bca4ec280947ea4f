"""Model test data: the synthetic training-view frame, quick settings, a real model trained in seconds.

`features_frame` gives small, cached, seeded frames of the generator in `glue.testing.synthetic` (the modelling
tests, the score tests and bench use them); `train_artifacts` trains a calibrated logistic regression on one,
labels from tau per product fitted on the training part, and writes a real artifacts directory with
`glue.modeling.artifacts.write_artifacts`, so `load_scorer` loads it exactly as it loads `glue train`'s;
`feature_messages` encodes rows as `glue featurize` publishes them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from glue.config import Settings
from glue.testing.synthetic import synthetic_features

PRODUCTS = ("BTC-USD", "ETH-USD")


@lru_cache(maxsize=4)
def _frame(seconds: int, seed: int, products: tuple[str, ...]) -> pd.DataFrame:
    return synthetic_features(products=products, seconds=seconds, seed=seed)


def features_frame(seconds: int = 2 * 3600, seed: int = 7, products: tuple[str, ...] = PRODUCTS) -> pd.DataFrame:
    """`products`, `seconds` 1-second rows each, with regimes and gaps (a fresh copy per call)."""
    return _frame(seconds, seed, tuple(products)).copy()


def write_features(directory: Path, seconds: int = 2 * 3600, seed: int = 7, name: str = "features.parquet") -> Path:
    path = Path(directory) / name
    features_frame(seconds, seed).to_parquet(path, index=False)
    return path


def fast_settings(tmp_path: Path | None = None, **overrides: Any) -> Settings:
    """Settings for quick test runs: few bootstrap resamples, 2 folds, everything under tmp_path."""
    base: dict[str, Any] = {"model.bootstrap_samples": 50, "model.walk_forward_folds": 2}
    if tmp_path is not None:
        base.update({"model.artifacts_dir": str(tmp_path / "artifacts"), "model.reports_dir": str(tmp_path / "reports"),
                     "model.tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    base.update(overrides)
    return Settings().replace(base)


def train_artifacts(directory: Path, seconds: int = 3600, sql_version: str = "", seed: int = 7,
                    model: str = "logreg") -> Path:
    """A real, small model in `directory` (model.skops + model.json); returns the directory.

    `sql_version` defaults to the SQL manifest's current version, the one `glue featurize` emits.
    `model` is "logreg" or "forecast" (which reads each row's tau after the features: threshold_input).
    """
    from glue.modeling.artifacts import write_artifacts
    from glue.modeling.data import feature_columns, feature_matrix
    from glue.modeling.estimators import build_logreg, calibrate
    from glue.modeling.tau import apply_label, fit_tau

    df = features_frame(seconds=seconds, seed=seed)
    sql_version = sql_version or str(df["sql_version"].iloc[0])
    df = df[df["sigma_future_bps"].notna()].reset_index(drop=True)
    cut_train, cut_val = int(len(df) * 0.6), int(len(df) * 0.8)
    train, val = df.iloc[:cut_train], df.iloc[cut_train:cut_val]
    tau = fit_tau(train, 0.9)
    columns = feature_columns(df)
    X_train, X_val = feature_matrix(train, columns), feature_matrix(val, columns)
    if model == "forecast":
        from glue.modeling.forecast import LabelSpec, VolatilityForecast

        def with_tau(X: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
            spec = LabelSpec("assignment", tau)
            return np.column_stack([X, spec.thresholds(rows["product_id"].tolist(), X, columns)])

        X_train, X_val = with_tau(X_train, train), with_tau(X_val, val)
        fitted = VolatilityForecast(columns).fit(X_train, apply_label(train, tau),
                                                 sigma_future_bps=train["sigma_future_bps"].to_numpy(dtype=float))
    else:
        fitted = build_logreg(1.0, seed).fit(X_train, apply_label(train, tau))
    estimator = calibrate(fitted, X_val, apply_label(val, tau))
    p_val = estimator.predict_proba(X_val)[:, 1]
    meta: dict[str, Any] = {
        "feature_columns": columns,
        "tau_bps": tau,
        "threshold": float(np.quantile(p_val, 0.9)),
        "sql_version": sql_version,
        "sql_fingerprint": "test",
        "model_version": "test-1",
        "trained_at": "2026-01-01T00:00:00Z",
        "metrics": {},
        "threshold_input": model == "forecast",
    }
    return write_artifacts(directory, estimator, meta, {})


def feature_messages(df: pd.DataFrame, emitted_at_ns: int = 0) -> list[tuple[bytes, bytes]]:
    """(key, value) per row as `glue featurize` publishes them: JSON, RFC 3339 `Z` times, emitted_at."""
    out = []
    for row in df.to_dict("records"):
        value: dict[str, Any] = {}
        for k, v in row.items():
            if k in ("sigma_future_bps", "label"):
                continue
            if k == "second_at":
                v = v.strftime("%Y-%m-%dT%H:%M:%SZ")
            elif isinstance(v, float) and not np.isfinite(v):
                v = None
            elif isinstance(v, np.bool_ | bool):
                v = bool(v)
            elif isinstance(v, np.integer):
                v = int(v)
            elif isinstance(v, np.floating):
                v = float(v)
            value[k] = v
        value["emitted_at"] = emitted_at_ns
        out.append((row["product_id"].encode(), json.dumps(value).encode()))
    return out
