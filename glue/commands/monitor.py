"""`glue monitor`: Evidently data-drift and data-quality reports (thin wrapper over glue.monitor)."""

from __future__ import annotations

import click


@click.command("monitor")
@click.option("--features", default=None, help="Features Parquet file or directory (default: features.parquet).")
@click.option("--out", default=None, help="Output directory (default: <model.reports_dir>/evidently).")
@click.option("--max-rows", type=int, default=50_000, show_default=True,
              help="Rows sampled (seeded) per side of each comparison.")
@click.option("--tracking-uri", default=None, help="MLflow tracking URI (default: model.tracking_uri).")
@click.option("--no-mlflow", is_flag=True, help="Do not log the drift summary to MLflow.")
@click.pass_obj
def command(obj, features, out, max_rows, tracking_uri, no_mlflow) -> None:
    """Data drift and data quality (Evidently DataDriftPreset + DataSummaryPreset) for early vs late
    data and for test vs train; HTML and JSON under reports/evidently/; drifted columns printed here.

    \b
    Example:
      glue monitor --features data/processed/features.parquet
      open reports/evidently/test_vs_train.html
    """
    from glue.monitor import run_monitor

    settings = obj.settings(model__tracking_uri=tracking_uri)
    for summary in run_monitor(settings, features or settings.features.parquet, out_dir=out, max_rows=max_rows,
                               log_mlflow=not no_mlflow):
        click.echo(summary.line())
        click.echo(f"  html: {summary.html_path}  json: {summary.json_path}")
