"""Shared by the score tests and bench: a real model trained quickly through glue.modeling.

Trains a calibrated logistic regression on the synthetic training-view frame (glue.modeling.synthetic),
labels from tau per product fitted on the training part, and writes a real artifacts directory with
`glue.modeling.artifacts.write_artifacts`, so `load_scorer` loads it exactly as it loads `glue train`'s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def feature_frame(seconds: int = 1800, seed: int = 7, products=("BTC-USD", "ETH-USD")):
    from glue.modeling.synthetic import synthetic_features

    return synthetic_features(products=products, seconds=seconds, seed=seed)


def train_artifacts(directory: Path, seconds: int = 3600, sql_version: str = "", seed: int = 7) -> Path:
    """A real, small model in `directory` (model.skops + model.json); returns the directory.

    `sql_version` defaults to the SQL manifest's current version, the one `glue featurize` emits.
    """
    from glue.modeling.artifacts import write_artifacts
    from glue.modeling.data import feature_columns, feature_matrix
    from glue.modeling.estimators import build_logreg, calibrate
    from glue.modeling.tau import apply_label, fit_tau

    df = feature_frame(seconds=seconds, seed=seed)
    sql_version = sql_version or str(df["sql_version"].iloc[0])
    df = df[df["sigma_future_bps"].notna()].reset_index(drop=True)
    cut_train, cut_val = int(len(df) * 0.6), int(len(df) * 0.8)
    train, val = df.iloc[:cut_train], df.iloc[cut_train:cut_val]
    tau = fit_tau(train, 0.9)
    columns = feature_columns(df)
    fitted = build_logreg(1.0, seed).fit(feature_matrix(train, columns), apply_label(train, tau))
    model = calibrate(fitted, feature_matrix(val, columns), apply_label(val, tau))
    p_val = model.predict_proba(feature_matrix(val, columns))[:, 1]
    meta: dict[str, Any] = {
        "feature_columns": columns,
        "tau_bps": tau,
        "threshold": float(np.quantile(p_val, 0.9)),
        "sql_version": sql_version,
        "sql_fingerprint": "test",
        "model_version": "test-1",
        "trained_at": "2026-01-01T00:00:00Z",
        "metrics": {},
    }
    return write_artifacts(directory, model, meta, {})


def feature_messages(df, emitted_at_ns: int = 0) -> list[tuple[bytes, bytes]]:
    """(key, value) per row as `glue featurize` publishes them: JSON, RFC 3339 `Z` times, emitted_at."""
    out = []
    for row in df.to_dict("records"):
        value = {}
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
