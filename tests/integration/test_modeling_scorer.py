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
