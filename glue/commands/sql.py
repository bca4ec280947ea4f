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
@click.pass_obj
def command(obj, query, warehouse, snapshot_dir, fmt, max_rows) -> None:
    """Run an ad-hoc SQL query on the warehouse.

    Opens the warehouse read-only when no process writes it; while `glue featurize` holds it, answers
    from the Parquet snapshot that featurize publishes after each batch (same views: feat_*, lbl_*, trn_*).

    \b
    Example:
      glue sql "SELECT product_id, count(*) FROM exp_features GROUP BY 1"
      glue sql "SELECT * FROM trn_training_1s ORDER BY second_at DESC LIMIT 5" --format json
      glue sql "SELECT * FROM lbl_labels_1s LIMIT 3" --warehouse data/warehouse.duckdb --format csv
    """
    from glue.warehouse.query import render, run_query

    settings = obj.settings(features__warehouse=warehouse)
    result = run_query(query, settings.features.warehouse, snapshot_dir=snapshot_dir,
                       sql_dir=settings.features.sql_dir, sql_version=settings.features.sql_version,
                       max_rows=max_rows)
    click.echo(render(result, fmt))
