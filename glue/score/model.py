"""The model side of scoring: load a scorer and read the metadata rows are checked against (contracts 6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glue.config import Settings
from glue.errors import GlueError, ModelError


def default_model_source(settings: Settings) -> str:
    """The registered champion, `models:/<name>@<alias>`."""
    return f"models:/{settings.model.registered_model}@{settings.model.alias}"


def load_model(source: str, settings: Settings) -> Any:
    """Load a scorer through `glue.modeling.load_scorer`, turning any failure into one clear line."""
    try:
        from glue import modeling

        load_scorer = getattr(modeling, "load_scorer", None)
        if load_scorer is None:
            from glue.modeling.scorer import load_scorer
    except ImportError as exc:  # the modelling package is missing from this install
        raise ModelError(f"cannot import glue.modeling ({exc})", "reinstall the project: make venv") from exc
    try:
        scorer = load_scorer(source, tracking_uri=settings.model.tracking_uri)
    except GlueError as exc:
        raise ModelError(f"cannot load model '{source}': {exc.message}", exc.hint) from exc
    except Exception as exc:  # any loader failure is the same user problem: no usable model
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(
            f"cannot load model '{source}' ({detail})",
            "train one with `glue train`, or pass --model models/artifacts",
        ) from exc
    return scorer


def _meta(scorer: Any, name: str, default: Any = None) -> Any:
    """Scorer metadata (contracts section 6) as attribute or in a `metadata`/`meta` mapping."""
    if hasattr(scorer, name):
        return getattr(scorer, name)
    for holder in ("metadata", "meta"):
        mapping = getattr(scorer, holder, None)
        if isinstance(mapping, dict) and name in mapping:
            return mapping[name]
    return default


@dataclass(frozen=True)
class ModelInfo:
    """What rows are checked against and predictions carry: the model's columns, threshold and versions."""

    feature_columns: tuple[str, ...]
    threshold: float
    model_version: str
    sql_version: str


def model_info(scorer: Any) -> ModelInfo:
    columns = _meta(scorer, "feature_columns")
    threshold = _meta(scorer, "threshold")
    if not columns or threshold is None:
        raise ModelError("the model has no feature_columns/threshold metadata", "retrain it with `glue train`")
    return ModelInfo(
        feature_columns=tuple(columns),
        threshold=float(threshold),
        model_version=str(_meta(scorer, "model_version", "") or ""),
        sql_version=str(_meta(scorer, "sql_version", "") or ""),
    )
