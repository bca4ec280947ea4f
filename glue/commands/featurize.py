"""`glue featurize`: ticks.raw -> DuckDB -> final feature rows (thin wrapper over glue.featurize)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("featurize")
@click.option("--topic-in", default=None, help="Raw records topic (default: kafka.topic_raw).")
@click.option("--topic-out", default=None, help="Feature rows topic (default: kafka.topic_features).")
@click.option(
    "--parquet",
    default=None,
    help="Directory of Parquet part files (default: features.parquet without its suffix, "
    "i.e. data/processed/features/).",
)
@click.option("--warehouse", default=None, help="DuckDB warehouse file (default: features.warehouse).")
@click.option("--group", default=None, help="Consumer group (default: features.group_id).")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default: kafka.bootstrap_servers).")
@click.option("--max-seconds", type=float, default=0.0, show_default=True, help="Stop after N seconds (0 = never).")
@click.option("--until-idle", type=float, default=0.0, show_default=True,
              help="Stop after S seconds without input (0 = run until stopped).")
@click.option("--progress-interval", type=float, default=5.0, show_default=True, help="Seconds between progress lines.")
@click.option("--crash-at", default="", hidden=True, help="Test hook: POINT:N kills the process (see CrashHook).")
@click.pass_obj
def command(obj, topic_in, topic_out, parquet, warehouse, group, bootstrap, max_seconds, until_idle,
            progress_interval, crash_at) -> None:
    """Consume ticks.raw into DuckDB and publish final feature rows.

    A consumer-group member: per micro-batch it lands the records and their Kafka offsets in one
    DuckDB transaction, finalizes the seconds past the watermark, writes them to a Parquet part file
    and, in one Kafka transaction, to ticks.features (key = product) together with the group's
    offsets. On start it seeks to the offsets stored in DuckDB, so kill -9 and restart loses and
    duplicates nothing. Several instances with one --group split the partitions; give each its own
    --warehouse. Course mapping: `features/featurizer.py --topic_in ticks.raw --topic_out ticks.features`.

    \b
    Example:
      glue featurize --topic-in ticks.raw --topic-out ticks.features
      glue featurize --warehouse wh-a.duckdb --parquet data/processed/features-a --group feat --until-idle 10
    """
    from glue.featurize import FeaturizeJob, run_featurize

    settings = obj.settings(
        kafka__topic_raw=topic_in,
        kafka__topic_features=topic_out,
        kafka__bootstrap_servers=bootstrap,
        features__warehouse=warehouse,
        features__group_id=group,
    )
    fs = settings.features
    job = FeaturizeJob(
        topic_in=settings.kafka.topic_raw,
        topic_out=settings.kafka.topic_features,
        parquet_dir=Path(parquet) if parquet else Path(fs.parquet).with_suffix(""),
        warehouse=Path(fs.warehouse),
        group_id=fs.group_id,
        max_seconds=max_seconds,
        until_idle_s=until_idle,
        progress_interval_s=progress_interval,
        crash_at=crash_at,
    )
    stats = run_featurize(settings, job)
    click.echo(stats.line(stats.elapsed_s))
