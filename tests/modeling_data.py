"""Test data for the modelling tests: a realistic training-view frame from the synthetic generator.

The generator itself lives in `glue.modeling.synthetic` (the benchmark and the notebook use it too);
this module gives the tests small, cached, seeded frames and a Parquet writer.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from glue.modeling.synthetic import synthetic_features


@lru_cache(maxsize=4)
def _frame(seconds: int, seed: int) -> pd.DataFrame:
    return synthetic_features(seconds=seconds, seed=seed)


def features_frame(seconds: int = 2 * 3600, seed: int = 7) -> pd.DataFrame:
    """Two products, `seconds` 1-second rows each, with regimes and gaps (a fresh copy per call)."""
    return _frame(seconds, seed).copy()


def write_features(directory: Path, seconds: int = 2 * 3600, seed: int = 7, name: str = "features.parquet") -> Path:
    path = Path(directory) / name
    features_frame(seconds, seed).to_parquet(path, index=False)
    return path


def fast_settings(tmp_path: Path | None = None, **overrides):
    """Settings for quick test runs: few bootstrap resamples, 2 folds, everything under tmp_path."""
    from glue.config import Settings

    base = {"model.bootstrap_samples": 50, "model.walk_forward_folds": 2}
    if tmp_path is not None:
        base.update({"model.artifacts_dir": str(tmp_path / "artifacts"), "model.reports_dir": str(tmp_path / "reports"),
                     "model.tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    base.update(overrides)
    return Settings().replace(base)
