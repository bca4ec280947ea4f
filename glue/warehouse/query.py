"""Ad-hoc SQL on a warehouse, including while `glue featurize` is writing it.

The mechanism (DuckDB lets one process write a file and then nobody else may open it):
1. the warehouse file itself, opened read-only, when no writer holds it (everything is there, raw_* too);
2. otherwise the snapshot the writer publishes after each batch (`glue.warehouse.snapshot`): an in-memory
   DuckDB with the same SQL version, where int_grid_1s and exp_features are views over the Parquet parts,
   so feat_*, lbl_* and trn_* work; raw_* and stg_* are empty there (the NDJSON archive holds the raw data).
`QueryResult.source` says which one answered.

Read-only and sandboxed, by DuckDB's own switches rather than by inspecting the SQL: the database is
opened with `access_mode=READ_ONLY` (the snapshot too: its Parquet parts are copied into a private
temporary DuckDB file, which is then reopened read-only; the published parts are never opened by the
query), `enable_external_access=false` with no `allowed_directories` unless the user gives some, and
`lock_configuration=true`, so no `SET` can give any of it back. So `COPY ... TO`, `ATTACH`,
`read_text('/etc/passwd')`, `INSTALL`/`LOAD` and every write are refused by DuckDB itself. An analyst who
wants to read or write files passes directories explicitly (`glue sql --allow-files DIR`); the database
stays read-only.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glue.errors import WarehouseError


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    source: str  # "warehouse" | "snapshot"


def connect_sandboxed(database: str, allowed_dirs: list[str | Path] | tuple[str | Path, ...] = ()) -> Any:
    """DuckDB on `database`, read-only, with no file or network access outside `allowed_dirs`, locked."""
    import duckdb

    con = duckdb.connect(database, config={"access_mode": "READ_ONLY", "autoinstall_known_extensions": False,
                                           "autoload_known_extensions": False})
    try:
        dirs = [str(Path(d).resolve()) + "/" for d in allowed_dirs]
        if dirs:  # settable only once the database is started, and before external access goes off
            con.execute("SET allowed_directories = ?", [dirs])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def run_query(sql: str, warehouse: str, *, snapshot_dir: str | None = None, sql_dir: str = "sql",
              sql_version: str = "", max_rows: int = 0, allow_files: tuple[str, ...] = ()) -> QueryResult:
    """Run one query on the warehouse file, or on its published snapshot while a writer holds it.

    Read-only and sandboxed (module docstring); `allow_files` are directories the query may read and
    write files in (the database itself stays read-only).
    """
    import duckdb

    for d in allow_files:
        if not Path(d).is_dir():
            raise WarehouseError(f"--allow-files {d} is not a directory", "pass an existing directory")
    con, source, scratch = None, "warehouse", None
    if Path(warehouse).is_file():
        try:
            con = connect_sandboxed(warehouse, allow_files)
        except duckdb.Error:
            con = None  # locked by a writer (another process, or this one): use the snapshot
    if con is None:
        scratch = tempfile.mkdtemp(prefix="glue-sql-")
        try:
            con = _open_snapshot_read_only(warehouse, snapshot_dir, sql_dir, sql_version, allow_files, scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        source = "snapshot"
    try:
        rel = con.sql(sql)
        if rel is None:
            return QueryResult([], [], source)
        rows = rel.fetchmany(max_rows) if max_rows else rel.fetchall()
        return QueryResult(list(rel.columns), rows, source)
    except duckdb.Error as exc:
        raise WarehouseError(f"query refused or failed: {str(exc).splitlines()[0]}",
                             "glue sql is read-only and reads no files; check the SQL (`SHOW TABLES` lists what "
                             "exists), or pass --allow-files DIR to read/write files in DIR") from exc
    finally:
        con.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _open_snapshot_read_only(warehouse: str, snapshot_dir: str | None, sql_dir: str, sql_version: str,
                             allow_files: tuple[str, ...], scratch: str) -> Any:
    """The snapshot's views built in a private file, reopened read-only and sandboxed to the snapshot."""
    from glue.warehouse.snapshot import open_snapshot, snapshot_dir_for

    snap = Path(snapshot_dir) if snapshot_dir else snapshot_dir_for(warehouse)
    if not snap.is_dir():
        raise WarehouseError(f"warehouse {warehouse} is missing or locked and there is no snapshot at {snap}",
                             "pass --warehouse of an existing file, or --snapshot of a published directory")
    db = str(Path(scratch) / "snapshot.duckdb")
    # A copy of the parts, not views over them: the views would need the snapshot directory allowed,
    # and an allowed directory is writable (READ_ONLY does not stop COPY ... TO a file in it).
    open_snapshot(snap, sql_dir=sql_dir, sql_version=sql_version, database=db, copy=True).close()
    return connect_sandboxed(db, allow_files)


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
