"""`glue ingest`: Coinbase WebSocket frames into Kafka ticks.raw and the NDJSON archive (thin wrapper)."""

from __future__ import annotations

import click


@click.command("ingest")
@click.option("--pair", "pairs", multiple=True, help="Product id, repeatable (default: ingest.pairs).")
@click.option("--minutes", type=float, default=None, help="Stop after this many minutes (default: ingest.minutes; "
              "0 = until stopped).")
@click.option("--channels", default=None, help="Comma-separated channels (default: ticker,market_trades,level2,"
              "heartbeats).")
@click.option("--url", default=None, help="WebSocket URL (default: the real Coinbase Advanced Trade endpoint).")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default: kafka.bootstrap_servers).")
@click.option("--topic", default=None, help="Raw topic (default: kafka.topic_raw).")
@click.option("--archive-dir", default=None, help="Archive root (default: ingest.archive_dir, data/raw).")
@click.option("--spool-dir", default=None, help="Spool directory used while Kafka is away (default: data/spool).")
@click.option("--watchdog", type=float, default=None, help="Reconnect after this many silent seconds.")
@click.option("--data-watchdog", type=float, default=0.0, show_default=True,
              help="Also reconnect when heartbeats arrive but no data for this many seconds (0 = off).")
@click.option("--no-kafka", is_flag=True, help="Archive only; do not produce to Kafka.")
@click.option("--json-summary", is_flag=True, help="Print the summary as one JSON object instead of text.")
@click.pass_obj
def command(obj, pairs, minutes, channels, url, bootstrap, topic, archive_dir, spool_dir, watchdog, data_watchdog,
            no_kafka, json_summary) -> None:
    """Stream market data into Kafka ticks.raw and data/raw/YYYY-MM-DD/*.ndjson.

    Subscribes one message per channel (heartbeats included), reconnects with backoff on every
    close and when no frame arrives for the watchdog time, tracks sequence_num per connection and
    writes gap/duplicate/disconnect markers, re-requests level2 snapshots after a sequence gap
    (unsubscribe + subscribe, rate-limited by ingest.l2_resnapshot_interval_s), archives every
    frame unchanged before producing it (idempotent, acks=all), and spools to disk while Kafka is
    unreachable. Stops on Ctrl-C/SIGTERM or after --minutes, flushing everything, and prints a
    summary.

    \b
    Example:
      glue ingest --pair BTC-USD --minutes 15
      glue ingest --pair BTC-USD --pair ETH-USD --url ws://127.0.0.1:8765 --bootstrap 127.0.0.1:9092
      glue ingest --pair BTC-USD --channels ticker,heartbeats --no-kafka --archive-dir /tmp/raw
    """
    import json

    from glue.errors import IngestFailed
    from glue.ingest import run_ingest

    settings = obj.settings(
        ingest__pairs=list(pairs) or None,
        ingest__minutes=minutes,
        ingest__channels=channels,
        ingest__url=url,
        ingest__archive_dir=archive_dir,
        ingest__spool_dir=spool_dir,
        ingest__watchdog_s=watchdog,
        kafka__bootstrap_servers=bootstrap,
        kafka__topic_raw=topic,
    )
    summary = run_ingest(settings, kafka_enabled=not no_kafka, data_watchdog_s=data_watchdog)
    if json_summary:
        click.echo(json.dumps(summary.as_dict(), sort_keys=True))
    else:
        for line in summary.lines():
            click.echo(line)
    failure = summary.failure()
    if failure is not None:
        raise IngestFailed(failure)
