"""Published Parquet snapshots: how `glue sql` (and an analyst's DuckDB) reads a warehouse that is being written.

DuckDB allows one writing process per file and then no other process can open it, even read-only. So
the writer publishes: after each commit `publish_snapshot(wh, dir)` writes the export batches not yet
published as immutable Parquet parts (temp file + rename, names fixed by batch id, so a crash and a
re-publish rewrite the same part):

    <dir>/features/batch-<id>.parquet   the emitted feature rows (exp_features)
    <dir>/grid/batch-<id>.parquet       the int_grid_1s rows behind them (labels are computed from these)

`open_snapshot(dir)` gives an in-memory DuckDB with the SQL version applied and `int_grid_1s` /
`exp_features` replaced by views over those parts, so every view (feat_*, lbl_*, trn_*) works as usual.
An analyst can do the same by hand: `SELECT * FROM read_parquet('<dir>/features/*.parquet')`.
Cost per publish is the new rows only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from glue.errors import WarehouseError

PUBLISHED_KEY = "published_batch_id"


def snapshot_dir_for(warehouse_path: str) -> Path:
    """Default snapshot directory next to the warehouse file."""
    return Path(f"{warehouse_path}.snapshot")


def publish_snapshot(wh: Any, out_dir: str | Path | None = None) -> int:
    """Write Parquet parts for export batches not yet published; returns the number of parts written."""
    out = Path(out_dir) if out_dir is not None else snapshot_dir_for(wh.path)
    (out / "features").mkdir(parents=True, exist_ok=True)
    (out / "grid").mkdir(parents=True, exist_ok=True)
    done = int(wh._meta(PUBLISHED_KEY, "0"))
    batches = [int(r[0]) for r in wh.con.execute(
        "SELECT batch_id FROM ctl_exports WHERE batch_id > ? AND n_rows > 0 ORDER BY batch_id", [done]).fetchall()]
    for batch_id in batches:
        _copy(wh.con, f"SELECT * EXCLUDE (batch_id) FROM exp_features WHERE batch_id = {batch_id} "
                      "ORDER BY product_id, second_at", out / "features" / f"batch-{batch_id:09d}.parquet")
        # constant bounds first, so the grid scan is pruned by zone maps (cost does not grow with history)
        lo, hi = wh.con.execute("SELECT min(epoch(second_at))::BIGINT, max(epoch(second_at))::BIGINT "
                                "FROM exp_features WHERE batch_id = ?", [batch_id]).fetchall()[0]
        _copy(wh.con, "SELECT g.* FROM int_grid_1s AS g JOIN (SELECT product_id, min(second_at) AS a, "
                      f"max(second_at) AS b FROM exp_features WHERE batch_id = {batch_id} GROUP BY product_id) AS r "
                      "ON r.product_id = g.product_id AND g.second_at BETWEEN r.a AND r.b "
                      f"WHERE g.second_s BETWEEN {int(lo)} AND {int(hi)} "
                      "ORDER BY g.product_id, g.second_s", out / "grid" / f"batch-{batch_id:09d}.parquet")
    if batches:
        wh.con.execute("INSERT OR REPLACE INTO ctl_meta VALUES (?, ?)", [PUBLISHED_KEY, str(batches[-1])])
    return len(batches)


def _copy(con: Any, query: str, path: Path) -> None:
    tmp = path.with_suffix(".parquet.tmp")
    con.execute(f"COPY ({query}) TO '{tmp}' (FORMAT parquet)")
    os.replace(tmp, path)


def open_snapshot(snapshot_dir: str | Path, sql_dir: str = "sql", sql_version: str = "",
                  database: str = ":memory:", copy: bool = False) -> Any:
    """A DuckDB (in memory unless `database` names a file) whose views read the published Parquet parts.

    `copy`: int_grid_1s and exp_features become tables holding a copy of the parts instead of views over
    them, so the database needs no file access afterwards (how `glue sql` sandboxes a snapshot query).
    """
    import duckdb

    from glue.warehouse.manifest import load_version

    root = Path(snapshot_dir)
    if not (root / "features").is_dir() or not any((root / "features").glob("*.parquet")):
        raise WarehouseError(f"no published snapshot in {root}",
                             "run `glue featurize` (it publishes after each batch) or pass --warehouse")
    version = load_version(sql_dir, sql_version)
    con = duckdb.connect(database)
    con.execute(version.script)
    con.execute("DROP TABLE exp_features")
    con.execute("DROP TABLE int_grid_1s")
    kind = "TABLE" if copy else "VIEW"
    con.execute(f"CREATE {kind} exp_features AS SELECT * FROM read_parquet('{root / 'features'}/*.parquet')")
    con.execute(f"CREATE {kind} int_grid_1s AS SELECT * FROM read_parquet('{root / 'grid'}/*.parquet')")
    con.execute("INSERT OR REPLACE INTO ctl_meta VALUES ('sql_version', ?)", [version.name])
    return con
