"""`infer`: score a features file with a saved or registered model, and measure how fast.

Owns batch scoring and its throughput figures: rows/s and the real-time factor (seconds of market the
file covers, i.e. its distinct grid seconds, per second of scoring). Scoring time counts building the
float matrix and the model call; reading the file is timed separately.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glue.config import Settings
from glue.errors import ModelError

log = logging.getLogger("glue.infer")

CHUNK_ROWS = 200_000


@dataclass
class InferResult:
    rows: int
    market_seconds: int
    read_s: float
    score_s: float
    alerts: int
    model_version: str
    source: str
    out_path: str = ""

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.score_s if self.score_s > 0 else float("inf")

    @property
    def realtime_factor(self) -> float:
        return self.market_seconds / self.score_s if self.score_s > 0 else float("inf")

    def line(self) -> str:
        return (f"infer: scored {self.rows:,} rows ({self.market_seconds:,} s of market) in {self.score_s:.3f} s: "
                f"{self.rows_per_s:,.0f} rows/s, {self.realtime_factor:,.0f}x real time; alerts {self.alerts:,} "
                f"({self.alerts / max(self.rows, 1):.2%}); model {self.model_version or self.source}; "
                f"read {self.read_s:.2f} s")


def default_source(settings: Settings) -> str:
    """The local artifacts directory if it holds a model, else the registered alias."""
    from glue.modeling.artifacts import MODEL_FILE

    if (Path(settings.model.artifacts_dir) / MODEL_FILE).is_file():
        return settings.model.artifacts_dir
    return f"models:/{settings.model.registered_model}@{settings.model.alias}"


def infer(settings: Settings, features: str, source: str | None = None, out: str | None = None) -> InferResult:
    """Score every row of `features`; optionally write predictions Parquet to `out`."""
    import pandas as pd

    from glue.modeling.data import read_features, sql_version_of
    from glue.modeling.scorer import load_scorer

    src = source or default_source(settings)
    scorer = load_scorer(src, tracking_uri=settings.model.tracking_uri)
    log.info("infer: model %s (%s), %d features, threshold %.4f", src, scorer.model_version,
             len(scorer.feature_columns), scorer.threshold)
    t0 = time.perf_counter()
    df = read_features(features)
    read_s = time.perf_counter() - t0
    version = sql_version_of(df)
    if scorer.sql_version and version and version != scorer.sql_version:
        raise ModelError(f"features are SQL version {version} but the model was trained on {scorer.sql_version}",
                         "score features produced by the model's SQL version")
    probs = np.empty(len(df), dtype=np.float64)
    t1 = time.perf_counter()
    for start in range(0, len(df), CHUNK_ROWS):
        chunk = df.iloc[start : start + CHUNK_ROWS]
        probs[start : start + len(chunk)] = scorer.score(chunk)
        done = start + len(chunk)
        if len(df) > CHUNK_ROWS:
            log.info("infer: %d/%d rows, %.0f rows/s", done, len(df), done / (time.perf_counter() - t1))
    score_s = time.perf_counter() - t1
    is_spike = probs >= scorer.threshold
    result = InferResult(rows=len(df), market_seconds=int(df["second_at"].nunique()), read_s=read_s,
                         score_s=score_s, alerts=int(is_spike.sum()), model_version=scorer.model_version, source=src)
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"product_id": df["product_id"], "second_at": df["second_at"], "probability": probs,
                      "is_spike": is_spike, "threshold": scorer.threshold, "model_version": scorer.model_version,
                      "sql_version": df["sql_version"] if "sql_version" in df.columns else version,
                      }).to_parquet(path, index=False)
        result.out_path = str(path)
    log.info("%s", result.line())
    return result
