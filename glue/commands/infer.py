"""`glue infer`: score a features file with a saved or registered model (thin wrapper over glue.modeling.infer)."""

from __future__ import annotations

import click


@click.command("infer")
@click.option("--features", required=True, help="Features Parquet file or directory to score.")
@click.option("--model", "source", default=None,
              help="Artifacts dir or models:/<name>@<alias> (default: model.artifacts_dir if it has a model, "
                   "else the registered alias).")
@click.option("--out", default=None, help="Write predictions Parquet here.")
@click.option("--tracking-uri", default=None, help="MLflow tracking URI for models:/ sources.")
@click.pass_obj
def command(obj, features, source, out, tracking_uri) -> None:
    """Score every row of a features file and print rows/s and the real-time factor
    (seconds of market covered per second of scoring).

    \b
    Example:
      glue infer --features data/processed/features_test.parquet
      glue infer --features data/processed/features.parquet --model models:/volatility-spike@champion \\
          --out data/processed/predictions.parquet
    """
    from glue.modeling.infer import infer

    settings = obj.settings(model__tracking_uri=tracking_uri)
    result = infer(settings, features, source=source, out=out)
    click.echo(result.line())
