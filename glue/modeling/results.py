"""Results of a training run and the names every modelling module shares.

Owns the constants (model names, margins, the skill gate's level) and the plain data a training run
produces (`ModelResult`, `TrainResult`), plus the two pure views of a result that the job writes
(`model_meta`, `predictions_frame`). It imports nothing from the other modelling modules that do work,
so fitting, tracking, the report and the model card can all depend on it without a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from glue.modeling.data import TRAINING_VIEW

PERSISTENCE, HAR, ZSCORE, LOGREG, HGB = "baseline_persistence", "baseline_har", "baseline_zscore", "logreg", "hgb"
FORECAST = "forecast"  # glue.modeling.forecast: P(sigma_future >= threshold) from a forecast of sigma_future
BASELINES = (PERSISTENCE, HAR, ZSCORE)
ML_MODELS = (LOGREG, HGB, FORECAST)
# The baselines that can be registered (scikit-learn pipelines); the z-score rule is reported only.
REGISTRABLE_BASELINES = (PERSISTENCE, HAR)
# HGB must beat the logistic regression on validation PR-AUC by this much to be chosen: a small
# gain does not pay for a model that is harder to explain and slower to score.
HGB_MARGIN = 0.005
TRAINING_VIEW_NAME = TRAINING_VIEW
# The model card's section written by `glue evaluate` (kept when `glue train --model-card` rewrites the card).
# Report file names under model.reports_dir: `glue train`'s single-split report and `glue evaluate`'s
# cross-capture report (separate names, so neither command overwrites the other's).
TRAIN_REPORT = "train_eval.pdf"
EVAL_REPORT = "model_eval.pdf"
CARD_BEGIN = "<!-- glue evaluate: begin -->"
CARD_END = "<!-- glue evaluate: end -->"
SKILL_ALPHA = 0.05
SKILL_PERMUTATIONS = 199
# An ML model is champion only if its validation PR-AUC lift over the best baseline has a circular block
# bootstrap interval at this level above 0 (a point win on one validation stretch is not enough: on the
# real captures it picked ML in 8 of 8 folds, which then lost out of capture). The ML pick is the best of
# m candidates on the same validation rows, so the level is Bonferroni-adjusted for the pick:
# 1 - (1 - VAL_LIFT_LEVEL) / m (m = 3: a 96.7 % interval, a one-sided 1.7 % test), see val_lift_level.
VAL_LIFT_LEVEL = 0.90
# Enough resamples that the adjusted interval's lower end is not one of a handful of draws (with 200 it
# was the 3rd lowest, and a resample's luck decided the champion).
VAL_LIFT_SAMPLES = 1000


def val_lift_level(n_candidates: int) -> float:
    """The two-sided level of the validation lift interval when the ML pick is the best of
    `n_candidates` models (Bonferroni: the family-wise one-sided error stays (1 - VAL_LIFT_LEVEL) / 2)."""
    return 1.0 - (1.0 - VAL_LIFT_LEVEL) / max(1, n_candidates)


def level_text(level: float) -> str:
    """90 -> "90 %", 0.96667 -> "96.7 %"."""
    return f"{100 * level:.1f}".removesuffix(".0") + " %"


@dataclass
class ModelResult:
    name: str
    kind: str  # baseline | ml
    estimator: Any  # a fitted scikit-learn estimator (None for the z-score rule)
    params: dict[str, Any]
    p_val: np.ndarray
    p_test: np.ndarray
    threshold: float = 0.5
    val_f1: float = float("nan")
    val: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    selection: dict[str, float] = field(default_factory=dict)  # walk-forward mean PR-AUC per config
    skill_p_value: float = float("nan")  # validation PR-AUC vs a time-shift null
    no_skill: bool = False  # True: replaced by the constant base rate (see apply_skill_gate)
    # The model's own test ranking before calibration and the skill gate: the raw rule for baselines,
    # the uncalibrated model for ML (a calibration fitted on a one-regime validation can flip its sign).
    p_test_ungated: np.ndarray | None = None
    test_ungated: dict[str, float] = field(default_factory=dict)  # PR-AUC / ROC-AUC of those scores
    # ML only: validation PR-AUC minus the best baseline's, with its block-bootstrap interval
    # ({"baseline", "estimate", "ci_low", "ci_high", ...}); the champion rule reads ci_low
    val_lift: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    """Everything a report, a test or a caller needs from one training run."""

    feature_columns: list[str]
    sql_version: str
    sql_fingerprint: str
    split: dict[str, Any]
    tau_bps: dict[str, float]
    label: str  # model.label: "assignment" (y = sigma_future_bps >= tau) or "relative" (ratio >= k)
    k: float | None  # the relative label's threshold from train (None for the assignment label)
    reference_s: int  # the relative label's trailing reference window
    summary: pd.DataFrame  # per split and product: rows, positives, positive rate, time range
    models: dict[str, ModelResult]
    chosen: str
    bootstrap: dict[str, dict[str, float]]
    y_val: np.ndarray
    y_test: np.ndarray
    test_keys: pd.DataFrame
    coefficients: pd.DataFrame | None
    data_range: tuple[str, str]
    rows_total: int
    rows_unlabelled: int
    seed: int
    tau_quantile: float
    timings_s: dict[str, float] = field(default_factory=dict)
    artifacts_dir: str = ""
    report_path: str = ""
    run_ids: dict[str, str] = field(default_factory=dict)
    registered_version: str = ""
    verdict: str = ""
    bootstrap_block_s: int = 300
    example_rows: pd.DataFrame | None = None  # a few test rows' features (MLflow input example)
    # the label threshold (bps) of those rows: the forecast model's extra input (glue.modeling.forecast)
    example_thresholds: np.ndarray | None = None

    def metrics_json(self) -> dict[str, Any]:
        """The deterministic metrics document (no timestamps, no run ids)."""
        return {
            "chosen": self.chosen,
            "positive_rates": {
                f"{r.split}/{r.product_id}": r.positive_rate for r in self.summary.itertuples(index=False)
            },
            "tau_bps": self.tau_bps,
            "label": self.label,
            "k": self.k,
            "reference_s": self.reference_s,
            "split": self.split,
            "models": {name: {"val": m.val, "test": m.test, "threshold": m.threshold, "params": m.params,
                              "selection": m.selection, "skill_p_value": m.skill_p_value, "no_skill": m.no_skill,
                              "test_ungated": m.test_ungated, "val_lift": m.val_lift}
                       for name, m in self.models.items()},
            "bootstrap": self.bootstrap,
            "verdict": self.verdict,
        }



def predictions_frame(result: TrainResult) -> pd.DataFrame:
    out = result.test_keys.copy()
    out["label"] = result.y_test
    for name, r in result.models.items():
        out[f"p_{name}"] = r.p_test
    chosen = result.models[result.chosen]
    out["probability"] = chosen.p_test
    out["is_spike"] = chosen.p_test >= chosen.threshold
    return out


def model_meta(result: TrainResult, model_version: str) -> dict[str, Any]:
    chosen = result.models[result.chosen]
    return {
        "feature_columns": result.feature_columns,
        "tau_bps": result.tau_bps,
        "label": result.label,
        "k": result.k,
        "reference_s": result.reference_s,
        "threshold": chosen.threshold,
        "sql_version": result.sql_version,
        "sql_fingerprint": result.sql_fingerprint,
        "model_version": model_version,
        "model_name": result.chosen,
        # the model reads the label threshold of each row (tau of its product, or k x its reference) as
        # one more input after the feature columns: the Scorer appends it (glue.modeling.forecast)
        "threshold_input": result.chosen == FORECAST,
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metrics": {"test": chosen.test, "val": chosen.val},
        "data_start_at": result.data_range[0],
        "data_end_at": result.data_range[1],
        "seed": result.seed,
    }
