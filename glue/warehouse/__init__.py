"""The DuckDB warehouse: versioned SQL feature views and the incremental engine over them.

Public API (used by `glue featurize`, `glue replay`, `glue sql`, training and tests):

* `Warehouse.open(path, settings.features)` -> `Warehouse` (":memory:" for a throw-away one); applies the
  manifest's SQL version, refuses a file built with another SQL fingerprint or lateness.
* `wh.land(records, coords=None)`: raw records + consumed Kafka offsets in ONE transaction.
  `coords[i] = (topic, partition, offset[, key])` or None (replay); `records[i]` may be None (dead letter:
  only its offset is stored).
* `wh.finalize() -> pyarrow.Table`: the feature rows of the seconds that became final (watermark rule:
  second t of a product is final once max landed event time of that product - lateness_s > t), recorded
  with an export batch in ONE transaction; cost bounded by the 300-s look-back, not by history.
* `wh.pending_exports() -> list[ExportBatch]`, `wh.mark_exported(batch_id)`: the export watermark.
* `wh.committed_offsets() -> {(topic, partition): next_offset}`, `wh.watermark_ns()`, `wh.close()`.
* `wh.features()` / `wh.labels()`: everything emitted / the label view, sorted by (product_id, second_at).
* `publish_snapshot(wh, dir)`: Parquet parts of the new rows for `glue sql` while the writer runs.
* `feature_columns(sql_version)`: the model's feature list (every feature column, in order).

See docs/feature_spec.md for every feature, the label, the watermark/lateness and gap rules.
"""

from __future__ import annotations

from functools import lru_cache

from glue.warehouse.engine import ExportBatch, LandStats, Warehouse, connect
from glue.warehouse.manifest import SqlVersion, load_version
from glue.warehouse.snapshot import open_snapshot, publish_snapshot

KEY_COLUMNS = ("product_id", "second_at", "sql_version")
LABEL_COLUMNS = ("sigma_future_bps", "label")


@lru_cache(maxsize=8)
def feature_columns(sql_version: str = "", sql_dir: str = "sql") -> tuple[str, ...]:
    """The feature columns of a SQL version, in row order (keys and label columns excluded)."""
    import duckdb

    version = load_version(sql_dir, sql_version)
    con = duckdb.connect()
    try:
        con.execute(version.script)
        cols = [r[0] for r in con.execute("DESCRIBE feat_features_1s").fetchall()]
    finally:
        con.close()
    return tuple(c for c in cols if c not in KEY_COLUMNS and c not in LABEL_COLUMNS)


__all__ = [
    "ExportBatch",
    "LandStats",
    "SqlVersion",
    "Warehouse",
    "connect",
    "feature_columns",
    "load_version",
    "open_snapshot",
    "publish_snapshot",
]
