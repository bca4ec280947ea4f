"""`glue import`: convert other people's captures into the archive format (thin wrapper over glue.importer)."""

from __future__ import annotations

import click


@click.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, help="Output directory, e.g. data/imported/<name>/.")
@click.option("--assume-tz", default=None, help="Time zone of naive timestamps (IANA name; default UTC).")
@click.option("--map", "mappings", multiple=True, metavar="FIELD=SOURCE",
              help="Read Advanced Trade FIELD (price, best_bid, exchange_time, receive_time, sequence_num, ...) "
                   "from SOURCE; repeatable.")
@click.option("--gap-threshold", "gap_threshold_s", type=float, default=10.0, show_default=True,
              help="Seconds without messages inside a capture that count as a hole (data_gap marker).")
@click.option("--dedup-window", "dedup_window_s", type=float, default=2.0, show_default=True,
              help="Seconds within which equal messages from overlapping files are duplicates.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier import of the same inputs in --out.")
@click.pass_obj
def command(obj, sources, out_dir, assume_tz, mappings, gap_threshold_s, dedup_window_s, overwrite) -> None:
    """Convert captures (raw, wrapped, flattened ticker, legacy Exchange) into replayable archive files.

    Each input file becomes its own connection; sequence numbers are kept or synthesized;
    duplicates across overlapping files are removed; data_gap markers are written at holes, and at
    a file boundary only when the silence across it exceeds ingest.watchdog_s or sequence numbers
    jump there. Lines that cannot be converted are counted per reason, with examples.
    Directories are searched for *.ndjson / *.jsonl files.

    \b
    Example:
      glue import ../shared/data/coinbase/Rushabh2704__crypto-volatility --out data/imported/rushabh/
      glue import captures/*.ndjson --out data/imported/mine/ --assume-tz America/New_York
      glue import rows.ndjson --out data/imported/x/ --map price=last_px --map exchange_time=exch_ts
    """
    from glue.importer import import_captures, parse_mapping

    settings = obj.settings()
    summary = import_captures(
        list(sources),
        out_dir,
        assume_tz=assume_tz,
        mapping=parse_mapping(mappings),
        gap_threshold_s=gap_threshold_s,
        boundary_gap_s=settings.ingest.watchdog_s,
        dedup_window_s=dedup_window_s,
        rotate_mb=settings.ingest.archive_rotate_mb,
        overwrite=overwrite,
    )
    for line in summary.lines():
        click.echo(line)
