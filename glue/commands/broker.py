"""`glue broker up|down|status`: the project's local Kafka broker (thin wrapper over glue.broker)."""

from __future__ import annotations

import click


@click.command("broker")
@click.argument("action", type=click.Choice(["up", "down", "status"]))
@click.option("--port", type=int, default=None, help="Client port on 127.0.0.1 (default: broker.port, 9092).")
@click.option("--controller-port", type=int, default=None, help="KRaft controller port (default: 9093).")
@click.option("--home", default=None, help="State, logs and pid file (default: broker.home, .kafka in the repo).")
@click.option("--version", "kafka_version", default=None, help="Kafka version (default: broker.kafka_version).")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for readiness (up) or exit (down).")
@click.option("--topics/--no-topics", default=True, show_default=True, help="After up, create the project's topics.")
@click.pass_obj
def command(obj, action, port, controller_port, home, kafka_version, timeout, topics) -> None:
    """Start, stop or inspect a real single-node Kafka (KRaft) on 127.0.0.1, without Docker.

    `up` resolves Kafka from Maven Central with mvn (cached in ~/.cache/glue), formats storage
    once, starts it, waits until it answers a metadata request, and creates ticks.raw,
    ticks.features, ticks.predictions and ticks.dlq. `status` exits 3 when it is stopped.

    \b
    Example:
      glue broker up                 # 127.0.0.1:9092, state in .kafka/
      glue broker status
      glue broker up --port 39092 --controller-port 39093 --home /tmp/k2
      glue broker down
    """
    from glue.broker import run_broker

    settings = obj.settings(
        broker__port=port,
        broker__controller_port=controller_port,
        broker__home=home,
        broker__kafka_version=kafka_version,
    )
    code = run_broker(action, settings, create_topics=topics, timeout_s=timeout)
    if code:
        raise SystemExit(code)
