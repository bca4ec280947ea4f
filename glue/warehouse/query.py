"""Ad-hoc SQL on a warehouse, including while `glue featurize` is writing it.

The mechanism (DuckDB lets one process write a file and then nobody else may open it):
1. the warehouse file itself, opened read-only, when no writer holds it (everything is there, raw_* too);
2. otherwise the snapshot the writer publishes after each batch (`glue.warehouse.snapshot`): an in-memory
   DuckDB with the same SQL version, where int_grid_1s and exp_features are views over the Parquet parts,
   so feat_*, lbl_* and trn_* work; raw_* and stg_* are empty there (the NDJSON archive holds the raw data).
`QueryResult.source` says which one answered.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glue.errors import WarehouseError


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    source: str  # "warehouse" | "snapshot"


def run_query(sql: str, warehouse: str, *, snapshot_dir: str | None = None, sql_dir: str = "sql",
              sql_version: str = "", max_rows: int = 0) -> QueryResult:
    """Run one query on the warehouse file, or on its published snapshot while a writer holds the file."""
    import duckdb

    from glue.warehouse.snapshot import open_snapshot, snapshot_dir_for

    con, source = None, "warehouse"
    if Path(warehouse).is_file():
        try:
            con = duckdb.connect(warehouse, read_only=True)
        except duckdb.Error:
            con = None  # locked by a writer (another process, or this one): use the snapshot
    snap = Path(snapshot_dir) if snapshot_dir else snapshot_dir_for(warehouse)
    if con is None:
        if not snap.is_dir():
            raise WarehouseError(f"warehouse {warehouse} is missing or locked and there is no snapshot at {snap}",
                                 "pass --warehouse of an existing file, or --snapshot of a published directory")
        con, source = open_snapshot(snap, sql_dir=sql_dir, sql_version=sql_version), "snapshot"
    try:
        rel = con.sql(sql)
        if rel is None:
            return QueryResult([], [], source)
        rows = rel.fetchmany(max_rows) if max_rows else rel.fetchall()
        return QueryResult(list(rel.columns), rows, source)
    except duckdb.Error as exc:
        raise WarehouseError(f"query failed: {str(exc).splitlines()[0]}",
                             "check the SQL; `SHOW TABLES` lists what exists") from exc
    finally:
        con.close()


def render(result: QueryResult, fmt: str) -> str:
    """table | csv | json (a JSON array of objects; timestamps and decimals as text)."""
    if fmt == "json":
        return json.dumps([dict(zip(result.columns, r, strict=True)) for r in result.rows], default=str, indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    out.append(f"({len(result.rows)} rows, from the {result.source})")
    return "\n".join(out)


def _cell(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, float):
        return repr(v)
    return str(v)
