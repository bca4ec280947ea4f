"""MLflow logging and registration of a training run.

Owns what is logged: one run per model (params, val_/test_ metrics including PR-AUC and the positive
rate, bootstrap CIs, PR-curve / calibration / confusion-matrix PNGs, the scikit-learn model with
signature and input example), tags for the SQL version and fingerprint, data range and git revision,
and the registration of the chosen model under `settings.model.registered_model` with the alias.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from glue.config import Settings

log = logging.getLogger("glue.modeling.tracking")


def git_revision() -> str:
    """The checked-out commit (with '-dirty' when the tree has changes), or 'unknown'."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5)
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def setup(settings: Settings) -> str:
    """Point MLflow at the tracking URI and make sure the experiment exists; returns its id.

    Creating the store here, once, before any run, avoids SQLite races between parallel runs.
    """
    import mlflow

    mlflow.set_tracking_uri(settings.model.tracking_uri)
    mlflow.set_registry_uri(settings.model.tracking_uri)
    exp = mlflow.set_experiment(settings.model.experiment)
    return exp.experiment_id


def _flat_metrics(prefix: str, values: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in values.items()
            if isinstance(v, int | float) and np.isfinite(v)}


def log_result(result: Any, settings: Settings) -> str:
    """Log every model of `result` as its own run; register the chosen one. Returns 'name/version'."""
    import mlflow
    from mlflow.models import infer_signature

    from glue.modeling import plots
    from glue.modeling.artifacts import to_jsonable, trusted_types
    from glue.modeling.results import model_meta

    exp_id = setup(settings)
    tags = {"sql_version": result.sql_version or "unknown", "sql_fingerprint": result.sql_fingerprint or "unknown",
            "data_start_at": result.data_range[0], "data_end_at": result.data_range[1],
            "git_revision": git_revision(), "chosen_model": result.chosen}
    common = {"seed": result.seed, "tau_quantile": result.tau_quantile, "embargo_s": result.split["embargo_s"],
              "train_end_at": result.split["train_end_at"], "test_start_at": result.split["test_start_at"],
              "n_features": len(result.feature_columns), "rows_total": result.rows_total,
              **{f"tau_bps.{'pooled' if k == '*' else k}": round(v, 6) for k, v in result.tau_bps.items()},
              "label": result.label, "reference_s": result.reference_s,
              **({"k": round(result.k, 6)} if result.k is not None else {})}
    version = ""
    for name, r in result.models.items():
        with mlflow.start_run(experiment_id=exp_id, run_name=name) as run:
            mlflow.set_tags({**tags, "model_kind": r.kind, "is_chosen": str(name == result.chosen)})
            params = {**common, "model": name, **{k: v for k, v in r.params.items() if not isinstance(v, dict)}}
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            mlflow.log_metrics({**_flat_metrics("test_", r.test), **_flat_metrics("val_", r.val),
                                "val_skill_p_value": r.skill_p_value,
                                **_flat_metrics("test_ungated_", r.test_ungated)})
            mlflow.set_tag("no_skill", str(r.no_skill))
            for key, b in result.bootstrap.items():
                if key.startswith(f"{name}-") or key == name:
                    tag = "pr_auc" if key == name else f"pr_auc_diff_vs_{key.split('-', 1)[1]}"
                    mlflow.log_metrics(_flat_metrics(f"test_{tag}_", {"est": b["estimate"], "ci_low": b["ci_low"],
                                                                      "ci_high": b["ci_high"]}))
            figures = {
                "pr_curve.png": plots.pr_curves(result.y_test, {name: r.p_test}, f"{name}: precision-recall (test)"),
                "calibration.png": plots.calibration(result.y_test, {name: r.p_test}, f"{name}: calibration (test)"),
                "confusion_matrix.png": plots.confusion(result.y_test, r.p_test, r.threshold, f"{name} (test)"),
                "threshold_val.png": plots.threshold_curve(result.y_val, r.p_val, r.threshold,
                                                           f"{name}: threshold on validation"),
            }
            for fname, fig in figures.items():
                mlflow.log_figure(fig, f"plots/{fname}")
            if name == "baseline_zscore":
                mlflow.log_dict(to_jsonable(r.params), "zscore_rule.json")
            if name == "logreg" and result.coefficients is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "coefficients.csv"
                    result.coefficients.to_csv(path, index=False, float_format="%.6g")
                    mlflow.log_artifact(str(path))
            if r.estimator is not None:
                version = _log_model(result, name, r, settings, trusted_types, infer_signature, model_meta) or version
            log.info("mlflow: run %s (%s) test PR-AUC %.4f (positive rate %.4f)", run.info.run_id, name,
                     r.test["pr_auc"], r.test["positive_rate"])
            result.run_ids[name] = run.info.run_id
    return version or "local"


def _log_model(result, name, r, settings, trusted_types, infer_signature, model_meta) -> str:
    import mlflow

    from glue.modeling.artifacts import to_jsonable
    from glue.modeling.data import feature_matrix
    from glue.modeling.forecast import THRESHOLD_COLUMN
    from glue.modeling.results import FORECAST

    # The input example: the first test rows' features, as float64 (what the model sees).
    sample = result.example_rows
    X = feature_matrix(sample, result.feature_columns)
    if name == FORECAST and result.example_thresholds is not None:
        # the forecast model reads each row's label threshold after the features (glue.modeling.forecast)
        sample = sample.assign(**{THRESHOLD_COLUMN: result.example_thresholds})
        X = np.column_stack([X, result.example_thresholds])
    proba = r.estimator.predict_proba(X)[:, 1]
    signature = infer_signature(sample, proba)
    register = name == result.chosen
    with warnings.catch_warnings():
        # MLflow checks the example by predicting on the DataFrame; our models are fitted on arrays.
        warnings.filterwarnings("ignore", message="X has feature names")
        info = mlflow.sklearn.log_model(
            r.estimator, name="model", signature=signature, input_example=sample,
            registered_model_name=settings.model.registered_model if register else None,
            skops_trusted_types=trusted_types(r.estimator),
            metadata=to_jsonable(model_meta(result, "")) if register else None,
        )
    if not register:
        return ""
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(settings.model.registered_model, settings.model.alias, version)
    client.set_model_version_tag(settings.model.registered_model, version, "model_name", name)
    log.info("mlflow: registered %s version %s as @%s", settings.model.registered_model, version,
             settings.model.alias)
    return f"{settings.model.registered_model}/{version}"
