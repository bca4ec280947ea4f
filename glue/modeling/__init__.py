"""Modelling: training with honest evaluation, artifacts, MLflow, scoring, reports.

Public API (imported lazily so `import glue.modeling` stays cheap):
`load_scorer(source, tracking_uri=None) -> Scorer` (artifacts dir or `models:/<name>@<alias>`),
`train(settings, features=...) -> TrainResult`, `infer(settings, features, source) -> InferResult`.
Modules: data (columns, reading), splits, tau, estimators (baselines + models), evaluation (metrics,
threshold, bootstrap), results (constants and result types), fitting (the computation), training (the
job: files, MLflow, reports), tracking (MLflow), artifacts, scorer, infer, plots, report,
model_card, synthetic (test data).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Scorer", "infer", "load_scorer", "train"]


def load_scorer(source: Any, tracking_uri: str | None = None) -> Any:
    from glue.modeling.scorer import load_scorer as _load

    return _load(source, tracking_uri=tracking_uri)


def train(*args: Any, **kwargs: Any) -> Any:
    from glue.modeling.training import train as _train

    return _train(*args, **kwargs)


def infer(*args: Any, **kwargs: Any) -> Any:
    from glue.modeling.infer import infer as _infer

    return _infer(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "Scorer":
        from glue.modeling.scorer import Scorer

        return Scorer
    raise AttributeError(name)
