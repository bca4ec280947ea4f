"""Reading feature data for modelling: Parquet files/directories or the warehouse's training view.

Owns the column rules of `docs/contracts.md` section 5: keys, label columns, and "the feature list is
every other column" (numeric or boolean), so the code runs unchanged on any SQL version's output.
Duplicate keys and unlabelable rows are counted and logged, never silently dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from glue.errors import DataError, WarehouseError

log = logging.getLogger("glue.modeling.data")

KEY_COLUMNS = ("product_id", "second_at", "sql_version")
# the label columns of the training view (SQL v5 adds the relative label's reference, ratio and label);
# `_relative_ratio` is the modelling code's own bookkeeping column (glue.modeling.labels.RATIO)
LABEL_COLUMNS = ("sigma_future_bps", "label", "ref_vol_bps", "relative_ratio", "label_relative", "_relative_ratio")
# Columns a feature file may carry that are bookkeeping, not features (Kafka rows carry emitted_at).
META_COLUMNS = ("emitted_at",)


def feature_columns(df: pd.DataFrame) -> list[str]:
    """Every numeric or boolean column except keys, labels and bookkeeping, in file order."""
    excluded = set(KEY_COLUMNS) | set(LABEL_COLUMNS) | set(META_COLUMNS)
    cols, skipped = [], []
    for name in df.columns:
        if name in excluded:
            continue
        dtype = df[name].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            cols.append(name)
        else:
            skipped.append(name)
    if skipped:
        log.warning("features: ignoring %d non-numeric column(s): %s", len(skipped), ", ".join(skipped))
    if not cols:
        raise DataError("no numeric feature columns found", "check that the file is a features export")
    return cols


def feature_matrix(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The float64 matrix of `columns` (booleans as 0/1, NULL as NaN), C-contiguous."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"feature column(s) missing: {', '.join(missing)}",
                        "score with features from the same SQL version the model was trained on")
    try:  # one conversion for the usual all-numeric/bool frame (the per-row scoring path)
        return np.ascontiguousarray(df[columns].to_numpy(dtype=np.float64, na_value=np.nan))
    except (TypeError, ValueError):
        pass
    out = np.empty((len(df), len(columns)), dtype=np.float64)
    for j, name in enumerate(columns):
        out[:, j] = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def read_features(path: str | Path) -> pd.DataFrame:
    """Read a features Parquet file or a directory of parts; sorted by (second_at, product_id)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"features not found at {p}", "run `glue replay` (or pass --features PATH)")
    import pyarrow.dataset as ds

    try:
        table = ds.dataset(str(p), format="parquet", partitioning="hive").to_table()
    except Exception as exc:  # pyarrow raises many types for unreadable files
        raise DataError(f"cannot read Parquet at {p} ({exc})", "pass a features Parquet file or directory") from exc
    return normalise(table.to_pandas(), source=str(p))


TRAINING_VIEW = "trn_training_1s"


def read_training_view(warehouse: str | Path, sql_version: str = "") -> pd.DataFrame:
    """Read the warehouse's training view (features + sigma_future_bps) at a pinned SQL version."""
    p = Path(warehouse)
    if not p.exists():
        raise WarehouseError(f"warehouse not found at {p}",
                             "run `glue replay --warehouse PATH` first or pass --features")
    import duckdb

    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open {p} ({exc})", "stop the process writing it, or train from Parquet") from exc
    try:
        df = con.sql(f"SELECT * FROM {TRAINING_VIEW} ORDER BY second_at, product_id").df()
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot read {TRAINING_VIEW} from {p} ({exc})", "check the warehouse version") from exc
    finally:
        con.close()
    if sql_version and "sql_version" in df.columns:
        have = sorted(set(df["sql_version"].astype(str)))
        if have and have != [sql_version]:
            raise WarehouseError(f"warehouse rows are SQL version {have}, not {sql_version}",
                                 f"rebuild it with `glue replay --sql-version {sql_version}`")
    return normalise(df, source=f"{p}:{TRAINING_VIEW}")


def sibling_labels(features_path: str | Path) -> str | None:
    """The labels file `glue replay` writes beside its features output (`labels.parquet`), if there is one.

    So the course's two steps (`replay --out data/processed/features.parquet`, then
    `train --features data/processed/features.parquet`) work without naming the labels file.
    """
    candidate = Path(features_path).parent / "labels.parquet"
    if candidate.exists() and candidate.resolve() != Path(features_path).resolve():
        log.info("features: no sigma_future_bps column; using the labels beside them, %s", candidate)
        return str(candidate)
    return None


def join_labels(features: pd.DataFrame, labels_path: str | Path) -> pd.DataFrame:
    """Add sigma_future_bps from a labels Parquet (`glue replay --labels-out`) on (product_id, second_at)."""
    labels = read_features(labels_path)
    if "sigma_future_bps" not in labels.columns:
        raise DataError(f"{labels_path} has no sigma_future_bps column", "pass the file from --labels-out")
    right = labels[["product_id", "second_at", "sigma_future_bps"]]
    out = features.drop(columns=[c for c in ("sigma_future_bps",) if c in features.columns])
    out = out.merge(right, on=["product_id", "second_at"], how="left", validate="one_to_one")
    log.info("features: joined labels for %d of %d rows", int(out["sigma_future_bps"].notna().sum()), len(out))
    return out


def normalise(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check the key columns, make timestamps naive UTC, drop duplicate keys (counted), sort."""
    missing = [c for c in ("product_id", "second_at") if c not in df.columns]
    if missing:
        raise DataError(f"{source} lacks key column(s) {', '.join(missing)}", "see docs/contracts.md section 5")
    if df.empty:
        raise DataError(f"{source} has no rows", "produce features first (`glue replay`)")
    ts = pd.to_datetime(df["second_at"], utc=True).dt.tz_convert(None)
    df = df.assign(second_at=ts.astype("datetime64[us]"), product_id=df["product_id"].astype(str))
    dup = df.duplicated(["product_id", "second_at"], keep="last")
    if dup.any():
        log.warning("features: %d duplicate (product_id, second_at) rows in %s; keeping the last of each",
                    int(dup.sum()), source)
        df = df[~dup]
    return df.sort_values(["second_at", "product_id"], kind="stable").reset_index(drop=True)


def sql_version_of(df: pd.DataFrame) -> str:
    """The single SQL version of a frame ('' if absent); several versions is an error."""
    if "sql_version" not in df.columns:
        return ""
    versions = sorted(set(df["sql_version"].dropna().astype(str)))
    if len(versions) > 1:
        raise DataError(f"features mix SQL versions {versions}", "train on one version at a time")
    return versions[0] if versions else ""


def current_sql_version(sql_dir: str | Path = "sql") -> str:
    """The manifest's `current` SQL version (what `glue featurize`/`glue replay` compute by default)."""
    from glue.warehouse.manifest import read_manifest

    return str(read_manifest(sql_dir).get("current") or "")


def sql_fingerprint(sql_version: str, sql_dir: str = "sql") -> str:
    """The fingerprint of `sql_version` from the SQL manifest, '' when it cannot be read."""
    if not sql_version:
        return ""
    try:
        from glue.warehouse import load_version

        return str(load_version(sql_dir, sql_version).fingerprint)
    except Exception as exc:  # no manifest here (e.g. scoring elsewhere): record that we could not tell
        log.warning("features: no fingerprint for SQL version %s (%s)", sql_version, exc)
        return ""
