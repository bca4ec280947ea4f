"""`glue exchange`: run the fake Coinbase Advanced Trade exchange (thin: parse, build settings, serve)."""

from __future__ import annotations

import click


@click.command("exchange")
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8765; 0 = any free port).")
@click.option("--source", type=click.Choice(["sim", "recording"]), default=None, help="Market source.")
@click.option("--recording", multiple=True, help="Archive file(s) to replay (repeatable; glue archive format).")
@click.option("--speed", type=float, default=None, help="1 = real time, 10 = ten times faster, 0 = as fast as read.")
@click.option("--products", default=None, help="Simulated products, comma-separated (BTC-USD,ETH-USD).")
@click.option("--seed", type=int, default=None, help="Simulator seed: same seed, same market.")
@click.option("--fault", "faults", multiple=True, metavar="SPEC", help="Inject a fault (repeatable; grammar below).")
@click.option("--sent-log", type=click.Path(dir_okay=False), default=None, help="NDJSON of every frame sent.")
@click.option("--minutes", type=float, default=0.0, show_default=True, help="Stop after N minutes (0 = on signal).")
@click.option("--client-id/--no-client-id", default=None,
              help="client_id:\"\" in envelopes, as the real feed has it and the official SDK needs it "
                   "(default: yes; --no-client-id for captures that lack it).")
@click.option("--start-at", default=None, help="Simulator: market clock start (RFC 3339), for byte-exact runs.")
@click.option("--sim-minutes", type=float, default=0.0, show_default=True,
              help="Simulator: the market ends after N minutes of market time (0 = never).")
@click.option("--book-levels", type=int, default=500, show_default=True, help="Simulator: levels per book side.")
@click.option("--alias-usdc/--no-alias-usdc", default=True, show_default=True, help="Serve X-USDC as X-USD.")
@click.option("--ack-first", is_flag=True, default=False, help="Send the subscriptions ack before snapshots.")
@click.option("--snapshot-epoch-time", is_flag=True, default=False,
              help="level2 snapshot levels carry event_time 1970-01-01T00:00:00Z.")
@click.option("--ticker-batch-bbo", is_flag=True, default=False,
              help="ticker_batch carries best bid/ask (the docs say it omits them).")
@click.option("--resubscribe-snapshot/--no-resubscribe-snapshot", default=True, show_default=True,
              help="A product subscribed again on the same connection (after an unsubscribe) gets a new snapshot.")
@click.option("--on-end", type=click.Choice(["close", "keep-open"]), default="close", show_default=True,
              help="When the data ends: close 1000 'replay finished', or keep sending heartbeats.")
@click.option("--subscribe-deadline", "deadline_s", type=float, default=None,
              help="Seconds a client has to subscribe before it is closed (default 5).")
@click.option("--deadline-close-code", type=int, default=1008, show_default=True,
              help="Close code for a missed subscribe deadline.")
@click.option("--spike", "spikes", multiple=True, metavar="AT:SECONDS:FACTOR",
              help="Simulator: a volatility spike AT seconds after the start, lasting SECONDS, with moves FACTOR "
                   "times likelier and larger (repeatable), e.g. 60:30:20.")
@click.option("--rename-product", "renames", multiple=True, metavar="REAL=WIRE",
              help="A hostile feed: frames about REAL name WIRE instead (any text, JSON-escaped; repeatable).")
@click.option("--status-interval", type=float, default=10.0, show_default=True, help="Seconds between status lines.")
@click.pass_obj
def command(ctx, host, port, source, recording, speed, products, seed, faults, sent_log, minutes, client_id,
            start_at, sim_minutes, book_levels, alias_usdc, ack_first, snapshot_epoch_time, ticker_batch_bbo,
            resubscribe_snapshot, on_end, deadline_s,
            deadline_close_code, spikes, renames, status_interval) -> None:
    """Run the fake Coinbase Advanced Trade market-data exchange.

    Speaks the market-data protocol (one channel per subscribe, 5 s subscribe deadline, cumulative
    subscriptions ack, 1 Hz heartbeats, one sequence_num counter per connection, level2 as l2_data,
    market_trades, ticker) over a seeded simulated market or a recording, with faults on demand.

    \b
    Fault SPECs (N = data messages sent on the connection; @K = connection K only, default 1; @* = all):
      drop:N:1000|1011|reset   stall:N:SECONDS:silence|heartbeats   skip_seq:N:COUNT
      duplicate:N   reorder:N   malformed:N   unknown_channel:N   error_frame:N
      oversize_snapshot:MB   slow_send:MS   no_heartbeats   idle_close:SECONDS   reject_rate:PER_S

    \b
    Examples:
      glue exchange --port 8765 --products BTC-USD,ETH-USD --seed 7
      glue exchange --speed 0 --start-at 2026-01-01T00:00:00Z --sim-minutes 10 --sent-log sent.ndjson
      glue exchange --source recording --recording data/raw/2026-04-04/run-0001.ndjson --speed 0
      glue exchange --fault drop:500:reset --fault skip_seq:200:3@2 --fault reject_rate:8
      glue exchange --speed 1 --spike 120:60:20      # two quiet minutes, then a one-minute volatility spike

    --rename-product SOL-USD='<img src=x onerror=alert(1)>-USD' makes a hostile feed (subscribe to SOL-USD,
    receive frames naming the markup): that is how the live view's escaping is tested.
    """
    from glue.exchange.faults import parse_faults
    from glue.exchange.server import ExchangeOptions, parse_rename, parse_spike, parse_start_at, run_exchange

    settings = ctx.settings(
        exchange__host=host,
        exchange__port=port,
        exchange__source=source,
        exchange__recording=list(recording) or None,
        exchange__speed=speed,
        exchange__products=products,
        exchange__seed=seed,
        exchange__emit_client_id=client_id,
        exchange__subscribe_deadline_s=deadline_s,
        exchange__ack_after_snapshots=False if ack_first else None,
    )
    parse_faults(list(faults))  # bad specs fail here, before the socket opens
    options = ExchangeOptions(
        spikes=tuple(parse_spike(spec) for spec in spikes),
        rename_products=tuple(parse_rename(spec) for spec in renames),
        start_at_ns=parse_start_at(start_at),
        sim_minutes=sim_minutes,
        book_levels=book_levels,
        alias_usdc=alias_usdc,
        snapshot_epoch_time=snapshot_epoch_time,
        ticker_batch_bbo=ticker_batch_bbo,
        resubscribe_snapshot=resubscribe_snapshot,
        on_end=on_end.replace("-", "_"),
        deadline_close_code=deadline_close_code,
        status_interval_s=status_interval,
        record_sent=False,
    )
    summary = run_exchange(settings.exchange, options, list(faults), sent_log=sent_log, minutes=minutes)
    click.echo(
        f"exchange done: {summary['connections']} connections, {summary['frames_sent']} frames sent, "
        f"{summary['rejected']} rejected"
    )
