"""Rows in, predictions out: check a `ticks.features` row against the model, score a batch, shape a prediction.

Pure functions, no I/O (tests/unit/test_score_rows.py).
"""

from __future__ import annotations

import json
from typing import Any

from glue.errors import GlueError, ModelError
from glue.score.model import ModelInfo

KEY_COLUMNS = ("product_id", "second_at", "sql_version")


class BadRow(ValueError):
    """A feature row that cannot be scored; its message is the dead-letter reason."""


def decode_row(value: bytes | None, info: ModelInfo) -> dict[str, Any]:
    """Parse one `ticks.features` value and check it carries what the model needs.

    Raises `BadRow` (dead-letter it) for undecodable values or missing columns, and `ModelError`
    (stop) for a row from another SQL version than the model's.
    """
    if value is None:
        raise BadRow("empty value")
    try:
        row = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRow(f"undecodable JSON ({exc.__class__.__name__})") from exc
    if not isinstance(row, dict):
        raise BadRow("value is not a JSON object")
    missing = [c for c in (*KEY_COLUMNS, *info.feature_columns) if c not in row]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise BadRow(f"missing columns: {shown}")
    if not isinstance(row["product_id"], str) or not isinstance(row["second_at"], str):
        raise BadRow("product_id/second_at are not strings")
    if info.sql_version and str(row["sql_version"]) != info.sql_version:
        raise ModelError(
            f"feature rows are SQL version '{row['sql_version']}' but the model was trained on "
            f"'{info.sql_version}'",
            "retrain on these features (`glue train`) or run featurize at the model's SQL version",
        )
    for column in info.feature_columns:
        v = row[column]
        if v is not None and not isinstance(v, int | float):  # bool is an int: flags score as 0/1
            raise BadRow(f"column {column} is not numeric")
    return row


def prediction_message(row: dict[str, Any], probability: float, info: ModelInfo, scored_at_ns: int) -> dict:
    """The `ticks.predictions` value of contracts section 6 for one feature row."""
    p = float(probability)
    # Published unrounded: a consumer re-checking `probability >= threshold` must reach the same decision as
    # `is_spike` (rounded to 6 places, 0.0741962 became 0.074196, below a threshold of 0.0741961628).
    return {
        "product_id": row["product_id"],
        "second_at": row["second_at"],
        "probability": p,
        "is_spike": bool(p >= info.threshold),
        "threshold": info.threshold,
        "model_version": info.model_version,
        "sql_version": row["sql_version"],
        "feature_emitted_at": row.get("emitted_at"),
        "scored_at": scored_at_ns,
    }


def score_rows(scorer: Any, rows: list[dict[str, Any]], info: ModelInfo) -> list[float]:
    """Probabilities for rows, one model call per batch (NULL features go in as NaN, booleans as 0/1)."""
    import numpy as np

    matrix = np.array(
        [[np.nan if r[c] is None else float(r[c]) for c in info.feature_columns] for r in rows], dtype=np.float64
    )
    try:
        if hasattr(scorer, "score_matrix"):  # skips building a DataFrame on the hot path
            probabilities = scorer.score_matrix(matrix, [str(r["product_id"]) for r in rows])
        else:
            import pandas as pd

            probabilities = scorer.score(pd.DataFrame(matrix, columns=list(info.feature_columns)))
    except GlueError:
        raise
    except Exception as exc:
        raise ModelError(f"the model failed to score a batch ({exc})", "check the model and features agree") from exc
    return [float(p) for p in np.asarray(probabilities, dtype=float).reshape(-1)]
