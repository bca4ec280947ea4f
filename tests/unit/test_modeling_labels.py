"""`glue train --features X` finds the labels `glue replay` wrote beside X, and only those."""

from __future__ import annotations

import pandas as pd

from glue.modeling import data as mdata
from glue.modeling.training import load_frame


def _write(path, **cols):
    pd.DataFrame(cols).to_parquet(path)


def test_train_joins_the_labels_replay_wrote_beside_the_features(tmp_path):
    t = pd.to_datetime(["2026-01-01T00:00:01", "2026-01-01T00:00:02"])
    _write(tmp_path / "features.parquet", product_id=["A", "A"], second_at=t, rv_60s_bps=[1.0, 2.0])
    _write(tmp_path / "labels.parquet", product_id=["A", "A"], second_at=t, sigma_future_bps=[0.5, None])
    df = load_frame(str(tmp_path / "features.parquet"), None, "")
    assert df["sigma_future_bps"].tolist()[0] == 0.5 and df["sigma_future_bps"].isna().tolist()[1]


def test_no_sibling_labels_means_none(tmp_path):
    _write(tmp_path / "features.parquet", product_id=["A"], second_at=pd.to_datetime(["2026-01-01"]), x=[1.0])
    assert mdata.sibling_labels(tmp_path / "features.parquet") is None
    assert mdata.sibling_labels(tmp_path / "labels.parquet") is None  # a file is never its own labels
