"""The model artifacts directory (`docs/contracts.md` section 6): writing and reading it.

Owns the file layout: `model.skops` (the calibrated scikit-learn estimator, saved with skops, so loading
never unpickles arbitrary code), `model.json` (feature_columns, tau_bps per product, threshold,
sql_version, sql_fingerprint, model_version, trained_at, metrics), `feature_columns.json`, `tau.json`,
`metrics.json`, and `predictions_test.parquet`. JSON is written with sorted keys so equal inputs give
equal bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from glue.errors import ModelError

MODEL_FILE = "model.skops"
META_FILE = "model.json"
# skops refuses types it does not know; these are the scikit-learn internals our models are made of, and
# the project's own input transform (plain data: column names and a recipe of tuples).
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.", "glue.modeling.inputs.", "glue.modeling.forecast.")


def to_jsonable(value: Any) -> Any:
    """NaN/inf -> None and numpy scalars -> Python, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(to_jsonable(data), indent=2, sort_keys=True) + "\n")


def trusted_types(model: Any) -> list[str]:
    """The (scikit-learn) types skops must be told to trust to load `model`."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=sio.dumps(model))
    bad = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if bad:
        raise ModelError(f"model contains types outside scikit-learn: {bad}", "use scikit-learn estimators only")
    return list(untrusted)


def save_model(directory: Path, model: Any) -> None:
    import skops.io as sio

    sio.dump(model, directory / MODEL_FILE)


def load_model_file(path: Path) -> Any:
    """Load a .skops file, trusting only scikit-learn/numpy/scipy types."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelError(f"{path} is not a readable skops file ({exc})", "retrain with `glue train`") from exc
    bad = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if bad:
        raise ModelError(f"{path} contains untrusted types {bad}", "only load models written by `glue train`")
    return sio.load(path, trusted=untrusted)


def write_artifacts(directory: str | Path, model: Any, meta: dict[str, Any], metrics: dict[str, Any]) -> Path:
    """Write the whole artifacts directory (overwriting the files it owns, nothing else)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    save_model(out, model)
    write_json(out / META_FILE, meta)
    write_json(out / "feature_columns.json", meta["feature_columns"])
    write_json(out / "tau.json", meta["tau_bps"])
    write_json(out / "metrics.json", metrics)
    return out


def read_meta(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise ModelError(f"no {META_FILE} in {directory}", "train a model first: glue train --features PATH")
    return json.loads(path.read_text())
