"""`glue view`: the live page over Kafka (thin wrapper over glue.view.run_view)."""

from __future__ import annotations

import click


@click.command("view")
@click.option("--host", default=None, help="Interface to bind (default view.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default view.port, 8050; 0 = any free port).")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (default: kafka.bootstrap_servers).")
@click.option("--history", "history_s", type=float, default=None,
              help="Seconds of the recent past a fresh page shows (default view.history_s, 600).")
@click.option("--model", default=None,
              help="Artifacts directory whose model.json gives the label threshold (default model.artifacts_dir).")
@click.pass_obj
def command(obj, host, port, bootstrap, history_s, model) -> None:
    """Serve the live view: prices, volatility, spike probability, alerts and pipeline health.

    Reads ticks.raw, ticks.features and ticks.predictions as its own consumer (assigned partitions,
    no group, no commits: the services' groups are never touched), starting view.history_s in the
    past, and pushes updates to the page over server-sent events. Read-only; binds 127.0.0.1 unless
    told otherwise. Stops on Ctrl-C/SIGTERM.

    \b
    Example:
      glue view                                  # then open http://127.0.0.1:8050/
      glue view --port 8080 --bootstrap 127.0.0.1:9092 --history 300
    """
    from glue.view import run_view

    settings = obj.settings(view__host=host, view__port=port, kafka__bootstrap_servers=bootstrap,
                            view__history_s=history_s, view__model=model)
    run_view(settings, on_listening=lambda url: click.echo(f"view: open {url}  (Ctrl-C to stop)"))
