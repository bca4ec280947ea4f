"""`glue check`: validate a topic from the beginning (thin wrapper over glue.check)."""

from __future__ import annotations

import click


@click.command("check")
@click.option("--topic", default=None, help="Topic to read (default: kafka.topic_raw, ticks.raw).")
@click.option("--min", "min_valid", type=int, default=100, show_default=True,
              help="Fail unless at least this many valid messages are there.")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default: kafka.bootstrap_servers).")
@click.option("--strict", is_flag=True, help="Also fail on invalid frames, sequence gaps, duplicates or reordering.")
@click.option("--progress-interval", type=float, default=5.0, show_default=True,
              help="Seconds between progress lines on stderr.")
@click.pass_obj
def command(obj, topic, min_valid, bootstrap, strict, progress_interval) -> None:
    """Read a topic from the beginning and validate every message against the protocol.

    Joins no consumer group and commits nothing: partitions are assigned from their start up to
    the end captured when the check begins. Prints counts per channel and product, invalid
    frames with examples, sequence gaps, duplicates and reordering per connection, markers by
    type and the event-time span. Exits 7 with the reason when fewer than --min valid messages
    are there or the topic does not exist (3 when Kafka is unreachable).

    \b
    Example:
      glue check --topic ticks.raw --min 100
      glue check --topic ticks.raw --min 1 --bootstrap 127.0.0.1:39092 --strict
    """
    from glue.check import check_topic

    settings = obj.settings(kafka__bootstrap_servers=bootstrap, kafka__topic_raw=topic)
    check_topic(
        settings.kafka,
        settings.kafka.topic_raw,
        min_valid,
        strict=strict,
        progress_interval_s=progress_interval,
        emit=click.echo,
    )
    click.echo("check passed")
