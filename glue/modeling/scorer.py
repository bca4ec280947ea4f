"""`load_scorer(source) -> Scorer`: the one way to load a trained model for scoring.

`source` is an artifacts directory (`models/artifacts`) or a registry URI `models:/<name>@<alias>`
(or `models:/<name>/<version>`). The Scorer keeps the plain scikit-learn estimator and calls its
`predict_proba` on a float64 matrix built from the feature columns, which costs well under a
millisecond per row (no MLflow pyfunc layer on the scoring path).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from glue.errors import ModelError

log = logging.getLogger("glue.modeling.scorer")


@dataclass
class Scorer:
    """A calibrated model plus its contract metadata (`docs/contracts.md` section 6)."""

    model: Any
    feature_columns: list[str]
    threshold: float
    tau_bps: dict[str, float]
    sql_version: str = ""
    sql_fingerprint: str = ""
    model_version: str = ""
    trained_at: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    label: str = "assignment"  # what a probability is of: sigma_future >= tau, or ratio to the reference >= k
    k: float | None = None
    reference_s: int = 600
    threshold_input: bool = False  # the model reads each row's label threshold after the features (forecast)

    @property
    def metadata(self) -> dict[str, Any]:
        return {"feature_columns": self.feature_columns, "threshold": self.threshold, "tau_bps": self.tau_bps,
                "sql_version": self.sql_version, "sql_fingerprint": self.sql_fingerprint,
                "model_version": self.model_version, "trained_at": self.trained_at, "metrics": self.metrics,
                "label": self.label, "k": self.k, "reference_s": self.reference_s,
                "threshold_input": self.threshold_input}

    def matrix(self, df: Any) -> np.ndarray:
        from glue.modeling.data import feature_matrix

        return feature_matrix(df, self.feature_columns)

    def score_matrix(self, X: np.ndarray, products: list[str] | None = None) -> np.ndarray:
        """Probabilities for a float64 matrix whose columns are `feature_columns` in order.

        `products` (one per row) give the assignment label's tau per product to a model that reads the
        label threshold (`threshold_input`); without them the pooled tau is used."""
        if X.ndim != 2 or X.shape[1] != len(self.feature_columns):
            raise ModelError(f"expected {len(self.feature_columns)} feature columns, got shape {X.shape}",
                             "pass the model's feature_columns in order")
        if self.threshold_input:
            from glue.modeling.forecast import LabelSpec

            spec = LabelSpec(self.label, self.tau_bps, self.k, self.reference_s)
            X = np.column_stack([X, spec.thresholds(products, X, self.feature_columns)])
        return self.model.predict_proba(X)[:, 1]

    def score(self, df: Any) -> np.ndarray:
        """Probability of a volatility spike for each row of a DataFrame holding the feature columns."""
        products = df["product_id"].astype(str).tolist() if "product_id" in getattr(df, "columns", ()) else None
        return self.score_matrix(self.matrix(df), products)

    def predict(self, df: Any) -> np.ndarray:
        """is_spike per row: probability >= the threshold chosen on validation."""
        return self.score(df) >= self.threshold


def _from_meta(model: Any, meta: dict[str, Any], source: str, model_version: str | None = None) -> Scorer:
    try:
        return Scorer(model=model, feature_columns=list(meta["feature_columns"]), threshold=float(meta["threshold"]),
                      tau_bps={k: float(v) for k, v in meta.get("tau_bps", {}).items()},
                      sql_version=meta.get("sql_version", ""), sql_fingerprint=meta.get("sql_fingerprint", ""),
                      model_version=model_version or meta.get("model_version", ""),
                      trained_at=meta.get("trained_at", ""), metrics=meta.get("metrics", {}), source=source,
                      label=str(meta.get("label") or "assignment"),
                      k=float(meta["k"]) if meta.get("k") is not None else None,
                      reference_s=int(meta.get("reference_s") or 600),
                      threshold_input=bool(meta.get("threshold_input", False)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model metadata from {source} is incomplete ({exc})", "retrain with `glue train`") from exc


def load_scorer(source: str | Path, tracking_uri: str | None = None) -> Scorer:
    """Load a Scorer from an artifacts directory or `models:/<name>@<alias>` (registry at `tracking_uri`)."""
    text = str(source)
    if text.startswith("models:/"):
        return _load_registered(text, tracking_uri)
    from glue.modeling.artifacts import MODEL_FILE, load_model_file, read_meta

    directory = Path(text)
    if not (directory / MODEL_FILE).is_file():
        raise ModelError(f"no {MODEL_FILE} in {directory}", "train first (glue train) or pass models:/<name>@<alias>")
    return _from_meta(load_model_file(directory / MODEL_FILE), read_meta(directory), text)


def _load_registered(uri: str, tracking_uri: str | None) -> Scorer:
    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    name_part = uri[len("models:/"):]
    try:
        client = mlflow.MlflowClient()
        if "@" in name_part:
            name, alias = name_part.split("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
        else:
            name, version = name_part.rsplit("/", 1)
            mv = client.get_model_version(name, version)
        local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{mv.version}")
        model = mlflow.sklearn.load_model(local)
        meta = Model.load(str(Path(local) / "MLmodel")).metadata or {}
    except MlflowException as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"cannot load {uri} ({first})", "train and register one with `glue train`") from exc
    return _from_meta(model, meta, uri, model_version=f"{name}/{mv.version}")
