"""`glue replay`: archived NDJSON -> the SQL views -> features Parquet (thin wrapper over glue.replay)."""

from __future__ import annotations

import click


@click.command("replay")
@click.option("--raw", "raw", multiple=True, required=True,
              help="Archive NDJSON files, or captures in any format glue import reads (converted on the fly); "
                   "files, directories or globs (repeatable; shell globs work too).")
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
@click.option("--keep-import", default=None, metavar="DIR",
              help="Keep the archive files converted from other capture formats in DIR "
                   "(default: a temporary directory, removed at the end).")
@click.option("--assume-tz", default=None, help="Time zone of naive timestamps in converted captures (as glue import).")
@click.option("--map", "mappings", multiple=True, metavar="FIELD=SOURCE",
              help="Field mapping for converted captures (as glue import --map); repeatable.")
@click.option("--memory-limit", default=None, metavar="SIZE",
              help="DuckDB memory limit, e.g. 2GB (default for the in-memory warehouse: twice the archive's size, "
                   "128 MB to 512 MB, spilling to a temporary directory past it; DuckDB's default for --warehouse).")
@click.pass_obj
def command(obj, raw, more_raw, out, warehouse, labels_out, no_labels, sql_version, lateness_s,
            chunk_records, keep_import, assume_tz, mappings, memory_limit) -> None:
    """Replay archived NDJSON, or captures as people have them, through the same engine as `glue featurize`.

    Files not in the archive format are converted with glue import's rules on the fly (nothing is written
    beside them; --keep-import DIR keeps the converted archive), so the rows equal `glue import` then replay.

    The output equals, row for row and bit for bit, what live featurize emitted for the same frames
    (sorted by product_id, second_at). Also what the course calls `scripts/replay.py`.

    \b
    Example:
      glue replay --raw 'data/raw/*/*.ndjson' --out data/processed/features.parquet
      glue replay --raw data/raw/2026-04-04 --out /tmp/f.parquet --labels-out /tmp/labels.parquet
      glue replay --raw '../peer/data/raw/*.ndjson' --out data/processed/features.parquet
    """
    from pathlib import Path

    from glue.importer import parse_mapping
    from glue.replay import run_replay

    settings = obj.settings(features__sql_version=sql_version, features__lateness_s=lateness_s)
    out = out or settings.features.parquet
    if not labels_out and not no_labels:
        # Beside the features, where `glue train --features <out>` finds them without being told.
        labels_out = str(Path(out).parent / "labels.parquet")
    _, stats = run_replay(list(raw) + list(more_raw), out, settings.features,
                          warehouse=warehouse, labels_out=labels_out, chunk_records=chunk_records, keep_table=False,
                          memory_limit=memory_limit,
                          keep_import=keep_import,
                          import_options={"assume_tz": assume_tz, "mapping": parse_mapping(mappings),
                                          "boundary_gap_s": settings.ingest.watchdog_s,  # as glue import
                                          "rotate_mb": settings.ingest.archive_rotate_mb})
    click.echo(stats.line())
