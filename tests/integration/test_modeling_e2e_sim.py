"""End to end from the simulated market: glue.exchange simulator -> archive -> glue replay -> glue train."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from glue.cli import cli
from glue.modeling.training import LOGREG, PERSISTENCE, train
from glue.testing.featurize import simulated_stream, write_archive
from glue.testing.models import fast_settings

pytestmark = pytest.mark.slow
SIM_MINUTES = 90


def test_simulated_market_replayed_and_trained(tmp_path, monkeypatch):
    archive = write_archive(tmp_path / "raw" / "2026-01-01" / "sim-0001.ndjson",
                            simulated_stream(SIM_MINUTES * 60, book_levels=20))
    features, labels = tmp_path / "features.parquet", tmp_path / "labels.parquet"
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["replay", "--raw", str(archive), "--out", str(features), "--labels-out",
                                   str(labels), "--warehouse", str(tmp_path / "wh.duckdb")])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(features)
    assert set(df["product_id"]) == {"BTC-USD", "ETH-USD"}
    assert "sigma_future_bps" not in df.columns  # live-shaped rows; the label comes from the label view

    settings = fast_settings(tmp_path)
    result = train(settings, features=str(features), labels=str(labels), log_mlflow=False, report=False,
                   families=(LOGREG,))
    # The warehouse's feature columns are what the model uses, whatever they are.
    from glue.modeling.data import feature_columns

    assert result.feature_columns == feature_columns(df)
    assert result.sql_version == df["sql_version"].iloc[0]
    assert result.sql_fingerprint  # from the SQL manifest
    meta = json.loads((tmp_path / "artifacts" / "model.json").read_text())
    assert meta["sql_version"] == result.sql_version
    for name in (PERSISTENCE, LOGREG):
        m = result.models[name].test
        assert 0 <= m["pr_auc"] <= 1 and 0 < m["positive_rate"] < 1

    # --from-warehouse reads the training view: the same rows, features and labels as features + labels files.
    from glue.modeling.data import join_labels, read_features, read_training_view

    view = read_training_view(tmp_path / "wh.duckdb", result.sql_version)
    joined = join_labels(read_features(features), labels)
    assert feature_columns(view) == result.feature_columns
    pd.testing.assert_frame_equal(view[["product_id", "second_at", "sigma_future_bps"]].reset_index(drop=True),
                                  joined[["product_id", "second_at", "sigma_future_bps"]].reset_index(drop=True),
                                  check_dtype=False)
