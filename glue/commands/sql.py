"""`glue sql`: one ad-hoc query on the warehouse, also while featurize runs (thin wrapper)."""

from __future__ import annotations

import click


@click.command("sql")
@click.argument("query")
@click.option("--warehouse", default=None, help="DuckDB file (default: features.warehouse).")
@click.option("--snapshot", "snapshot_dir", default=None,
              help="Published snapshot directory (default: <warehouse>.snapshot), used while a writer holds the file.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--max-rows", type=int, default=0, show_default=True, help="Stop after this many rows (0 = all).")
@click.option("--allow-files", "allow_files", multiple=True, metavar="DIR",
              help="Let the query read and write files in DIR (repeatable); off by default. The database stays "
                   "read-only.")
@click.pass_obj
def command(obj, query, warehouse, snapshot_dir, fmt, max_rows, allow_files) -> None:
    """Run an ad-hoc SQL query on the warehouse.

    Opens the warehouse read-only when no process writes it; while `glue featurize` holds it, answers
    from the Parquet snapshot that featurize publishes after each batch (same views: feat_*, lbl_*, trn_*).
    Sandboxed: no write of any kind, no file or network access (COPY, ATTACH, read_csv('/...'), SET are
    refused) unless --allow-files names a directory.

    \b
    Example:
      glue sql "SELECT product_id, count(*) FROM exp_features GROUP BY 1"
      glue sql "SELECT * FROM trn_training_1s ORDER BY second_at DESC LIMIT 5" --format json
      glue sql "SELECT * FROM lbl_labels_1s LIMIT 3" --warehouse data/warehouse.duckdb --format csv
      glue sql "COPY (SELECT * FROM exp_features) TO 'out/f.parquet'" --allow-files out
    """
    from glue.warehouse.query import render, run_query

    settings = obj.settings(features__warehouse=warehouse)
    result = run_query(query, settings.features.warehouse, snapshot_dir=snapshot_dir,
                       sql_dir=settings.features.sql_dir, sql_version=settings.features.sql_version,
                       max_rows=max_rows, allow_files=tuple(allow_files))
    click.echo(render(result, fmt))
