"""Scorer and artifacts: contract metadata, errors a user can act on, single-row scoring (no MLflow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glue.errors import ModelError
from glue.modeling import load_scorer
from glue.modeling.artifacts import write_artifacts
from glue.modeling.estimators import build_logreg, calibrate


@pytest.fixture
def artifacts(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = (X[:, 0] + rng.normal(size=2000) > 1).astype(int)
    model = calibrate(build_logreg(C=1.0, seed=1).fit(X[:1000], y[:1000]), X[1000:], y[1000:])
    meta = {"feature_columns": ["rv_60s_bps", "spread_bps", "has_gap_60s"], "tau_bps": {"BTC-USD": 0.3},
            "threshold": 0.4, "sql_version": "v1", "sql_fingerprint": "abc", "model_version": "local",
            "trained_at": "2026-01-01T00:00:00Z", "metrics": {}}
    write_artifacts(tmp_path, model, meta, {})
    return tmp_path, model


def test_scorer_scores_frames_and_single_rows(artifacts):
    path, model = artifacts
    scorer = load_scorer(path)
    df = pd.DataFrame({"product_id": ["BTC-USD"] * 3, "rv_60s_bps": [0.1, 2.0, np.nan],
                       "spread_bps": [0.01, 0.02, 0.01], "has_gap_60s": [False, True, False]})
    p = scorer.score(df)
    assert p.shape == (3,) and np.all((p > 0) & (p < 1))
    expected = model.predict_proba(np.array([[0.1, 0.01, 0.0]]))[0, 1]
    assert p[0] == pytest.approx(expected)
    assert scorer.score(df.iloc[[1]])[0] == pytest.approx(p[1])
    assert list(scorer.predict(df)) == list(p >= 0.4)
    assert scorer.metadata["tau_bps"] == {"BTC-USD": 0.3} and scorer.sql_version == "v1"


def test_missing_feature_column_is_a_clear_error(artifacts):
    scorer = load_scorer(artifacts[0])
    with pytest.raises(Exception, match=r"feature column.*missing: has_gap_60s"):
        scorer.score(pd.DataFrame({"rv_60s_bps": [1.0], "spread_bps": [0.1]}))


def test_missing_artifacts_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match=r"no model\.skops"):
        load_scorer(tmp_path)


def test_a_forecast_model_is_saved_loaded_and_scored_with_each_rows_tau(tmp_path):
    """The forecast model reads tau of each row's product after the features: the Scorer appends it, from
    a frame, from Kafka rows (glue score) and, without products, at the pooled tau."""
    from glue.modeling.forecast import VolatilityForecast
    from glue.score.model import ModelInfo
    from glue.score.rows import score_rows

    rng = np.random.default_rng(0)
    cols = ["rv_10s_bps", "rv_60s_bps", "ticks_per_s_60s"]
    vol = np.exp(rng.normal(size=3000))
    X = np.column_stack([vol * 3, vol * 8, vol])
    sigma = vol * np.exp(0.3 * rng.normal(size=3000))
    tau = {"*": 1.5, "BTC-USD": 1.0, "ETH-USD": 3.0}
    model = VolatilityForecast(cols).fit(np.column_stack([X, np.full(3000, 1.5)]), (sigma >= 1.5).astype(int),
                                         sigma_future_bps=sigma)
    meta = {"feature_columns": cols, "tau_bps": tau, "threshold": 0.5, "sql_version": "v5", "sql_fingerprint": "f",
            "model_version": "local", "trained_at": "2026-01-01T00:00:00Z", "metrics": {}, "threshold_input": True}
    write_artifacts(tmp_path, model, meta, {})
    scorer = load_scorer(tmp_path)  # skops trusts glue.modeling.forecast's types, nothing else of ours
    assert scorer.threshold_input
    df = pd.DataFrame(X[:4], columns=cols).assign(product_id=["BTC-USD", "ETH-USD", "SOL-USD", "BTC-USD"])
    p = scorer.score(df)
    expected = [model.predict_proba(np.column_stack([X[i:i + 1], [[t]]]))[0, 1]
                for i, t in enumerate([1.0, 3.0, 1.5, 1.0])]
    assert p == pytest.approx(expected)
    rows = [{"product_id": r.product_id, "second_at": "2026-01-01T00:00:00Z", "sql_version": "v5",
             **{c: float(getattr(r, c)) for c in cols}} for r in df.itertuples()]
    info = ModelInfo(feature_columns=tuple(cols), threshold=0.5, model_version="local", sql_version="v5")
    assert score_rows(scorer, rows, info) == pytest.approx(expected)
    assert scorer.score_matrix(X[:1]) == pytest.approx(model.predict_proba(np.column_stack([X[:1], [[1.5]]]))[:, 1])
