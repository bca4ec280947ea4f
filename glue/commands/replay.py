"""`glue replay`: archived NDJSON -> the SQL views -> features Parquet (thin wrapper over glue.replay)."""

from __future__ import annotations

import click


@click.command("replay")
@click.option("--raw", "raw", multiple=True, required=True,
              help="Archive NDJSON files, directories or globs (repeatable; shell globs work too).")
@click.argument("more_raw", nargs=-1)
@click.option("--out", default=None, help="Features Parquet (default: features.parquet setting).")
@click.option("--warehouse", default=None,
              help="DuckDB file to build and keep (must be new). "
                   "Default: in memory, spilling to a temporary directory when memory runs short.")
@click.option("--labels-out", default=None,
              help="Where to write the label view (sigma_future_bps); default: labels.parquet beside --out.")
@click.option("--no-labels", is_flag=True, help="Do not write the label view.")
@click.option("--sql-version", default=None, help="SQL version (default: the manifest's current one).")
@click.option("--lateness", "lateness_s", type=int, default=None,
              help="Allowed lateness in seconds (features.lateness_s).")
@click.option("--chunk", "chunk_records", type=int, default=100_000, show_default=True,
              help="Records per land/finalize step when lines are read in Python (SQL v1, or a file DuckDB "
                   "refuses); SQL v2 lands files in ~256 MB steps. Any value gives the same rows.")
@click.pass_obj
def command(obj, raw, more_raw, out, warehouse, labels_out, no_labels, sql_version, lateness_s,
            chunk_records) -> None:
    """Replay archived or imported NDJSON through the same engine as `glue featurize`.

    The output equals, row for row and bit for bit, what live featurize emitted for the same frames
    (sorted by product_id, second_at). Also what the course calls `scripts/replay.py`.

    \b
    Example:
      glue replay --raw 'data/raw/*/*.ndjson' --out data/processed/features.parquet
      glue replay --raw data/raw/2026-04-04 --out /tmp/f.parquet --labels-out /tmp/labels.parquet
    """
    from pathlib import Path

    from glue.replay import run_replay

    settings = obj.settings(features__sql_version=sql_version, features__lateness_s=lateness_s)
    out = out or settings.features.parquet
    if not labels_out and not no_labels:
        # Beside the features, where `glue train --features <out>` finds them without being told.
        labels_out = str(Path(out).parent / "labels.parquet")
    _, stats = run_replay(list(raw) + list(more_raw), out, settings.features,
                          warehouse=warehouse, labels_out=labels_out, chunk_records=chunk_records)
    click.echo(stats.line())
