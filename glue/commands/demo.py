"""`glue demo`: the whole product end to end on a simulated market (thin wrapper over glue.demo)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--minutes", type=float, default=None,
              help="Simulated market minutes (default 180), or wall-clock minutes of the real feed with --live "
                   "(default 15).")
@click.option("--live", is_flag=True, help="Use the real Coinbase Advanced Trade feed instead of the fake exchange.")
@click.option("--products", default="BTC-USD,ETH-USD", show_default=True, help="Comma-separated product ids.")
@click.option("--out", "out_dir", default="data/demo", show_default=True,
              help="Output directory (a previous demo output there is replaced).")
@click.option("--bootstrap", default=None, help="Use this running Kafka broker instead of starting one.")
@click.option("--kafka/--no-kafka", "use_kafka", default=None,
              help="Force the Kafka path or the archive-only path (default: Kafka when Java is available).")
@click.option("--seed", type=int, default=7, show_default=True, help="Simulator seed.")
@click.option("--view", is_flag=True,
              help="Afterwards, run a live market through the pipeline with glue view on it (prints the URL) "
                   "until Ctrl-C.")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="With --view: the live market's speed (1 = real time, 5 = five times faster).")
@click.pass_obj
def command(obj, minutes, live, products, out_dir, bootstrap, use_kafka, seed, view, speed) -> None:
    """Run the whole product end to end, then print where everything is.

    Starts the fake exchange (a seeded simulated market, read faster than real time), the local
    Kafka broker (when Java is available; otherwise the same SQL views run over the archive with
    glue replay), then glue ingest -> glue featurize -> glue train (MLflow) -> glue monitor
    (Evidently) -> glue score, with progress for each stage. Everything lands under --out; every
    process it started is stopped at the end, on failure and on Ctrl-C.

    \b
    Example:
      glue demo                          # about 5 minutes: 3 simulated hours of BTC-USD and ETH-USD
      glue demo --minutes 60 --out /tmp/demo
      glue demo --live --minutes 15      # the real Coinbase feed (needs internet)
      glue demo --minutes 60 --view      # then a live market with the page at http://127.0.0.1:8050/
    """
    from glue.demo import DemoOptions, format_summary, run_demo

    settings = obj.settings()
    opts = DemoOptions(
        minutes=minutes if minutes is not None else (15.0 if live else 180.0),
        live=live,
        products=tuple(p.strip() for p in products.split(",") if p.strip()),
        out_dir=Path(out_dir),
        bootstrap=bootstrap,
        use_kafka=use_kafka,
        seed=seed,
        view=view,
        view_speed=speed,
    )
    result = run_demo(settings, opts)
    click.echo(format_summary(result))
