"""`glue score`: live feature rows from Kafka in, predictions out (thin wrapper over glue.score)."""

from __future__ import annotations

import click


@click.command("score")
@click.option("--topic-in", default=None, help="Feature rows topic (default: kafka.topic_features).")
@click.option("--topic-out", default=None, help="Predictions topic (default: kafka.topic_predictions).")
@click.option(
    "--model",
    "model_source",
    default=None,
    help="models:/NAME@ALIAS (default: the registered champion) or an artifacts directory.",
)
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default: kafka.bootstrap_servers).")
@click.option("--group", default=None, help="Consumer group (default: model.score_group_id).")
@click.option("--idle-exit", type=float, default=0.0, show_default=True,
              help="Stop after this many seconds without input (0 = run until stopped).")
@click.option("--max-rows", type=int, default=0, show_default=True, help="Stop after this many rows (0 = no limit).")
@click.option("--progress-interval", type=float, default=5.0, show_default=True, help="Seconds between progress lines.")
@click.pass_obj
def command(obj, topic_in, topic_out, model_source, bootstrap, group, idle_exit, max_rows, progress_interval) -> None:
    """Score live feature rows and publish one prediction per product and second.

    Consumes ticks.features as a consumer-group member, scores each poll batch with the model,
    produces {product_id, second_at, probability, is_spike, threshold, model_version, sql_version,
    feature_emitted_at, scored_at} to ticks.predictions (key = product), and commits offsets only
    after the predictions are acknowledged. Alerts (is_spike) are logged one line each. Bad rows go
    to ticks.dlq with a reason; a model that cannot be loaded or a SQL version mismatch stops it.

    \b
    Example:
      glue score --topic-in ticks.features --topic-out ticks.predictions
      glue score --model models/artifacts --bootstrap 127.0.0.1:9092 --idle-exit 30
    """
    from glue.score import ScoreJob, run_score

    settings = obj.settings(
        kafka__topic_features=topic_in,
        kafka__topic_predictions=topic_out,
        kafka__bootstrap_servers=bootstrap,
        model__score_group_id=group,
    )
    job = ScoreJob(model_source=model_source, idle_exit_s=idle_exit, max_rows=max_rows,
                   progress_interval_s=progress_interval)
    summary = run_score(settings, job)
    click.echo(summary.line())
