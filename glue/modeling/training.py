"""`train`: the training job, from features to registered model, artifacts and report.

Owns the side effects around one fit (`glue.modeling.fitting.run_training`): reading the features,
logging one MLflow run per model and registering the chosen model with the alias
(`glue.modeling.tracking`), writing `models/artifacts/`, `reports/train_eval.pdf` and, when asked,
the model card. The names other code imports from here (model names, `run_training`, `prepare`) are
re-exported from `results` and `fitting`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from glue.config import Settings
from glue.errors import DataError
from glue.modeling import data as mdata
from glue.modeling.fitting import Step, prepare, run_training
from glue.modeling.results import (
    FORECAST,
    HGB,
    LOGREG,
    ML_MODELS,
    PERSISTENCE,
    TRAIN_REPORT,
    TRAINING_VIEW_NAME,
    ZSCORE,
    TrainResult,
    model_meta,
    predictions_frame,
)

__all__ = ["FORECAST", "HGB", "LOGREG", "ML_MODELS", "PERSISTENCE", "ZSCORE", "TrainResult", "load_frame", "prepare",
           "run_training", "train"]

log = logging.getLogger("glue.train")


def load_frame(features: str | None, warehouse: str | None, sql_version: str,
               labels: str | None = None) -> pd.DataFrame:
    if warehouse:
        return mdata.read_training_view(warehouse, sql_version)
    if not features:
        raise DataError("no input given", "pass --features PATH or --from-warehouse PATH")
    df = mdata.read_features(features)
    if not labels and "sigma_future_bps" not in df.columns:
        labels = mdata.sibling_labels(features)
    if labels:
        df = mdata.join_labels(df, labels)
    if sql_version and "sql_version" in df.columns:
        df = df[df["sql_version"].astype(str) == sql_version]
        if df.empty:
            raise DataError(f"no rows of SQL version {sql_version} in {features}", "check --sql-version")
    return df


def train(settings: Settings, features: str | None = None, warehouse: str | None = None, sql_version: str = "",
          *, labels: str | None = None, log_mlflow: bool = True, report: bool = True, model_card: str | None = None,
          shuffle_train_labels: bool = False, families: tuple[str, ...] = ML_MODELS) -> TrainResult:
    """The training job behind `glue train` and `models/train.py`."""
    t0 = time.perf_counter()
    m = settings.model
    with Step({}, "load features"):
        df = load_frame(features, warehouse, sql_version or settings.features.sql_version, labels)
    log.info("train: %d rows, %d products, %s .. %s", len(df), df["product_id"].nunique(),
             df["second_at"].min(), df["second_at"].max())
    result = run_training(df, settings, shuffle_train_labels=shuffle_train_labels, families=families)
    model_version = "local"
    if log_mlflow:
        from glue.modeling.tracking import log_result

        with Step(result.timings_s, "mlflow logging"):
            model_version = log_result(result, settings)
        result.registered_version = "" if model_version == "local" else model_version
    out = Path(m.artifacts_dir)
    with Step(result.timings_s, "write artifacts"):
        from glue.modeling.artifacts import write_artifacts

        chosen = result.models[result.chosen]
        write_artifacts(out, chosen.estimator, model_meta(result, model_version), result.metrics_json())
        if result.coefficients is not None:
            result.coefficients.to_csv(out / "coefficients.csv", index=False, float_format="%.6g")
        predictions_frame(result).to_parquet(out / "predictions_test.parquet", index=False)
        result.artifacts_dir = str(out)
    if report:
        from glue.modeling.report import write_report

        with Step(result.timings_s, "report PDF"):
            result.report_path = str(write_report(result, Path(m.reports_dir) / TRAIN_REPORT))
    if model_card:
        from glue.modeling.model_card import write_model_card

        source = f"warehouse {warehouse} ({TRAINING_VIEW_NAME})" if warehouse else f"features `{features}`"
        if labels:
            source += f" with labels `{labels}`"
        write_model_card(result, model_card, data_source=f"Data: {source}",
                         figures_dir=Path(m.reports_dir) / "figures")
    log.info("train: finished in %.1f s; chosen %s; artifacts in %s", time.perf_counter() - t0, result.chosen, out)
    return result
