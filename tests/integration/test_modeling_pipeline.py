"""The training job end to end on real files and a real MLflow SQLite store (never mocked)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from glue.modeling.data import current_sql_version
from glue.modeling.training import LOGREG, PERSISTENCE, run_training, train
from glue.testing.models import fast_settings, features_frame, write_features

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One full `train` run (MLflow on a temp SQLite store, artifacts, PDF, model card) shared by the tests."""
    tmp = tmp_path_factory.mktemp("train")
    features = write_features(tmp)
    settings = fast_settings(tmp)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)  # MLflow's default artifact root (./mlruns) lands in the temp dir
        result = train(settings, features=str(features), model_card=str(tmp / "model_card.md"))
    return tmp, settings, features, result


def test_artifacts_follow_the_contract(trained):
    tmp, settings, _, result = trained
    art = tmp / "artifacts"
    for name in ("model.skops", "model.json", "feature_columns.json", "tau.json", "metrics.json",
                 "predictions_test.parquet"):
        assert (art / name).is_file(), name
    meta = json.loads((art / "model.json").read_text())
    for key in ("feature_columns", "tau_bps", "threshold", "sql_version", "sql_fingerprint", "model_version",
                "trained_at", "metrics"):
        assert key in meta
    assert meta["sql_version"] == current_sql_version()  # the synthetic rows carry the current version
    assert meta["model_version"].startswith(f"{settings.model.registered_model}/")
    assert set(meta["tau_bps"]) >= {"BTC-USD", "ETH-USD"}
    preds = pd.read_parquet(art / "predictions_test.parquet")
    assert len(preds) == result.models[LOGREG].test["n"]
    assert {"product_id", "second_at", "label", "probability", "is_spike", f"p_{PERSISTENCE}"} <= set(preds.columns)
    # test predictions only: every row is after the test boundary
    assert preds["second_at"].min() >= pd.Timestamp(result.split["test_start_at"])


def test_mlflow_has_baseline_and_ml_runs_with_pr_auc(trained):
    import mlflow

    _, settings, _, _ = trained
    mlflow.set_tracking_uri(settings.model.tracking_uri)
    exp = mlflow.get_experiment_by_name(settings.model.experiment)
    runs = mlflow.search_runs([exp.experiment_id], output_format="list")
    by_name = {r.info.run_name: r for r in runs}
    assert {PERSISTENCE, "baseline_zscore", LOGREG} <= set(by_name)
    for name in (PERSISTENCE, LOGREG):
        run = by_name[name]
        assert 0 < run.data.metrics["test_pr_auc"] <= 1
        assert "test_positive_rate" in run.data.metrics
        assert run.data.tags["sql_version"] == current_sql_version()
        assert run.data.tags["git_revision"]
        assert run.data.tags["data_start_at"].startswith("2026-01-05")
        files = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "plots")}
        assert {"plots/pr_curve.png", "plots/calibration.png", "plots/confusion_matrix.png"} <= files
    assert "test_pr_auc_diff_vs_baseline_persistence_ci_low" in by_name[LOGREG].data.metrics


def test_registered_alias_scores_like_the_artifacts(trained):
    from glue.modeling import load_scorer

    tmp, settings, features, _ = trained
    uri = f"models:/{settings.model.registered_model}@{settings.model.alias}"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        registered = load_scorer(uri, tracking_uri=settings.model.tracking_uri)
    local = load_scorer(tmp / "artifacts")
    df = pd.read_parquet(features).head(500)
    np.testing.assert_allclose(registered.score(df), local.score(df))
    assert registered.feature_columns == local.feature_columns
    assert registered.threshold == pytest.approx(local.threshold)
    assert registered.model_version == local.model_version
    assert registered.score(df.iloc[[3]]).shape == (1,)


def test_infer_on_a_registered_model(trained, capsys):
    from glue.modeling.infer import infer

    tmp, settings, features, _ = trained
    out = tmp / "preds.parquet"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        res = infer(settings, str(features), source=f"models:/{settings.model.registered_model}@champion",
                    out=str(out))
    assert res.rows == len(pd.read_parquet(features))
    assert res.market_seconds > 0 and res.realtime_factor > 100
    preds = pd.read_parquet(out)
    assert {"product_id", "second_at", "probability", "is_spike", "threshold", "model_version",
            "sql_version"} <= set(preds.columns)
    assert preds["probability"].between(0, 1).all()


def test_report_pdf_and_model_card(trained):
    tmp, _, _, result = trained
    pdf = tmp / "reports" / "train_eval.pdf"
    raw = pdf.read_bytes()
    assert raw.startswith(b"%PDF") and raw.count(b"/Type /Page\n") + raw.count(b"/Type /Page ") >= 6
    for section in ("Data and splits", "Precision-recall curves", "Metrics with confidence intervals",
                    "Calibration", "Threshold choice", "Verdict"):
        assert section.encode() in raw  # PDF Keywords metadata lists the sections
    card = (tmp / "model_card.md").read_text()
    assert "PR-AUC" in card and "positive rate" in card and result.verdict in card
    assert f"{result.models[LOGREG].test['pr_auc']:.3f}" in card


@pytest.mark.parametrize("family", [LOGREG, "forecast"])
def test_label_shuffle_collapses_to_the_positive_rate(family):
    # the forecast model learns sigma_future, not the label: the guard permutes both (same rows)
    df = features_frame(2 * 3600, seed=11)
    settings = fast_settings()
    real = run_training(df, settings, families=(family,))
    shuffled = run_training(df, settings, shuffle_train_labels=True, families=(family,))
    m = shuffled.models[family].test
    assert m["pr_auc"] - m["positive_rate"] < 0.05  # nothing learnt from the future beats the base rate
    if family == LOGREG:
        assert abs(m["pr_auc"] - m["positive_rate"]) < 0.05
    # (the forecast still reads each product's tau, fitted on train: it can rank a product whose test
    # regime moved below the base rate, never above it by learning the shuffled target)
    r = real.models[family].test
    assert r["positive_rate"] == m["positive_rate"]  # same test labels: only train/val labels were permuted
    assert r["pr_auc"] - r["positive_rate"] > 0.05


def test_same_data_and_seed_give_identical_model_and_metrics(tmp_path):
    from glue.modeling import load_scorer

    features = write_features(tmp_path)
    outs = []
    for k in range(2):
        settings = fast_settings(tmp_path / f"run{k}")
        train(settings, features=str(features), log_mlflow=False, report=False)
        outs.append(tmp_path / f"run{k}" / "artifacts")
    assert (outs[0] / "metrics.json").read_bytes() == (outs[1] / "metrics.json").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(outs[0] / "predictions_test.parquet"),
                                  pd.read_parquet(outs[1] / "predictions_test.parquet"))
    df = pd.read_parquet(features)
    assert np.array_equal(load_scorer(outs[0]).score(df), load_scorer(outs[1]).score(df))


def test_cli_train_and_infer(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from glue.cli import cli

    features = write_features(tmp_path, seconds=3600)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli, ["train", "--features", str(features), "--no-hgb", "--no-mlflow",
                              "--bootstrap-samples", "20", "--artifacts", "art"])
    assert res.exit_code == 0, res.output
    assert "baseline_persistence" in res.output and "verdict:" in res.output
    res = runner.invoke(cli, ["infer", "--features", str(features), "--model", "art"])
    assert res.exit_code == 0, res.output
    assert "rows/s" in res.output and "x real time" in res.output


def test_missing_features_is_one_line_error(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "glue", "train", "--features", str(tmp_path / "nope.parquet")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 4
    assert proc.stderr.strip().splitlines()[-1].startswith("error: features not found")
    assert "Traceback" not in proc.stderr


def test_relative_label_k_is_logged_to_mlflow_and_stored_beside_tau(tmp_path):
    import mlflow

    df = features_frame(3600)
    df["n_ret_300s"] = np.where(df["rv_300s_bps"].notna(), 300, 0)  # the count a SQL v4 row carries
    features = tmp_path / "features.parquet"
    df.to_parquet(features, index=False)
    settings = fast_settings(tmp_path, **{"model.label": "relative"})
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        result = train(settings, features=str(features), report=False, families=(LOGREG,))
    meta = json.loads((tmp_path / "artifacts" / "model.json").read_text())
    assert meta["label"] == "relative" and meta["k"] == result.k and meta["tau_bps"]
    mlflow.set_tracking_uri(settings.model.tracking_uri)
    exp = mlflow.get_experiment_by_name(settings.model.experiment)
    run = mlflow.search_runs([exp.experiment_id], output_format="list")[0]
    assert run.data.params["label"] == "relative"
    assert float(run.data.params["k"]) == pytest.approx(result.k, abs=1e-6)
