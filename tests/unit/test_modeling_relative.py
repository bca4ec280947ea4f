"""The live label setting and the relative label's leakage guards in `glue train` (no MLflow).

k comes from the training window only; the reference at t reads no row after t (SQL v4's lagged sums
and SQL v5's own trailing-window columns alike); small or one-class data is one line, never a traceback.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from glue.config import Settings, load_settings
from glue.errors import ConfigError, DataError
from glue.modeling import labels as lab
from glue.modeling.fitting import prepare, run_training
from glue.modeling.splits import TEST, TRAIN
from glue.testing.models import fast_settings, features_frame


def _frame(seconds: int = 3600, seed: int = 7) -> pd.DataFrame:
    """The synthetic rows with the valid-return count a SQL v4 row has beside rv_300s_bps."""
    df = features_frame(seconds, seed)
    df["n_ret_300s"] = np.where(df["rv_300s_bps"].notna(), 300, 0)
    return df


def _relative(tmp_path=None, **overrides) -> Settings:
    return fast_settings(tmp_path, **{"model.label": "relative", **overrides})


def test_label_setting_defaults_file_env_flag(tmp_path):
    assert Settings().model.label == "assignment" and Settings().model.reference_s == 600
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  label: relative\n")
    assert load_settings(cfg, {}).model.label == "relative"
    assert load_settings(cfg, {"GLUE_MODEL__LABEL": "assignment"}).model.label == "assignment"
    assert load_settings(cfg, {"GLUE_MODEL__LABEL": "assignment"}, {"model.label": "relative"}).model.label \
        == "relative"
    with pytest.raises(ConfigError, match=r"model\.label") as exc:
        load_settings(None, {"GLUE_MODEL__LABEL": "absolute"})
    assert "\n" not in str(exc.value)


def test_k_is_fitted_on_the_training_window_only():
    settings = _relative()
    df = _frame()
    data, part, _, tau, y, _, k = prepare(df, settings)
    train = data[part == TRAIN]
    assert k == pytest.approx(np.quantile(train[lab.RATIO], settings.model.tau_quantile))
    # change every validation and test row's future and features: k (and tau) stay, the labels move
    cut = data.loc[part != TRAIN, "second_at"].min()
    changed = df.copy()
    later = changed["second_at"] >= cut
    changed.loc[later, "sigma_future_bps"] *= 10.0
    changed.loc[later, "rv_300s_bps"] *= 3.0
    changed.loc[later, "rv_60s_bps"] = 0.0
    _, part2, _, tau2, y2, _, k2 = prepare(changed, settings)
    assert k2 == k and tau2 == tau
    assert (part2 == part).all()
    assert y2[part2 == TEST].mean() != y[part == TEST].mean()
    assert np.array_equal(y2[part2 == TRAIN], y[part == TRAIN])


@pytest.mark.parametrize("v5", [False, True], ids=["lagged-300s-rows", "own-600s-column"])
def test_reference_at_t_uses_no_row_after_t(v5):
    df = _frame(2400)
    df = df.sort_values(["product_id", "second_at"], ignore_index=True)
    if v5:  # SQL v5 carries the trailing 600 s window in the row itself
        df["rv_600s_bps"] = df["rv_300s_bps"] * np.sqrt(2.0)
        df["n_ret_600s"] = np.where(df["rv_300s_bps"].notna(), 600, 0)
    ref = lab.reference_vol(df, 600)
    assert np.isfinite(ref).sum() > 1000
    t = df["second_at"].quantile(0.5)
    after = (df["second_at"] > t).to_numpy()
    rng = np.random.default_rng(1)
    perturbed = df.copy()
    for col in perturbed.columns:
        if pd.api.types.is_float_dtype(perturbed[col]):
            perturbed.loc[after, col] = perturbed.loc[after, col] * rng.uniform(0.1, 10.0, after.sum())
    ref2 = lab.reference_vol(perturbed, 600)
    assert np.array_equal(ref2[~after], ref[~after], equal_nan=True)  # nothing at or before t moved
    assert not np.array_equal(ref2[after], ref[after], equal_nan=True)  # the perturbation did reach later rows
    assert lab.RATIO in lab.with_ratio(df, 600).columns and lab.RATIO not in df.columns  # df itself untouched


def test_relative_training_stores_label_and_k(tmp_path):
    from glue.modeling.artifacts import write_artifacts
    from glue.modeling.results import model_meta

    result = run_training(_frame(), _relative(tmp_path), families=("logreg",))
    assert result.label == "relative" and result.k is not None and result.k > 0
    meta = model_meta(result, "local")
    assert meta["label"] == "relative" and meta["k"] == result.k and meta["reference_s"] == 600
    assert json.loads(json.dumps(result.metrics_json()))["k"] == result.k
    write_artifacts(tmp_path / "art", result.models[result.chosen].estimator, meta, result.metrics_json())
    from glue.modeling import load_scorer

    scorer = load_scorer(tmp_path / "art")
    assert scorer.label == "relative" and scorer.k == result.k
    p = scorer.score(_frame(600, seed=3))  # live rows: no label, no reference needed to score
    assert np.isfinite(p).all()


def test_assignment_training_has_no_k(tmp_path):
    result = run_training(_frame(), fast_settings(tmp_path), families=("logreg",))
    assert result.label == "assignment" and result.k is None


def test_capture_shorter_than_the_reference_is_one_line(tmp_path):
    df = _frame(280)  # no row has a complete 600 s reference
    with pytest.raises(DataError, match="relative label") as exc:
        run_training(df, _relative(tmp_path), families=("logreg", "hgb"))
    assert "\n" not in str(exc.value)


def test_one_class_relative_label_is_one_line(tmp_path):
    df = _frame()
    ref = lab.reference_vol(df, 600)
    df["sigma_future_bps"] = np.where(np.isfinite(ref), ref, df["sigma_future_bps"])  # ratio 1: all ties with k
    with pytest.raises(DataError, match="one class") as exc:
        run_training(df, _relative(tmp_path), families=("logreg",))
    assert "\n" not in str(exc.value)


def test_cli_train_relative_small_data_is_one_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "f.parquet"
    _frame(280).to_parquet(path, index=False)
    res = subprocess.run([sys.executable, "-m", "glue", "train", "--features", str(path), "--label", "relative",
                          "--no-mlflow", "--artifacts", str(tmp_path / "art")], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert res.returncode == 4, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "relative label" in lines[0] and "Traceback" not in res.stderr
