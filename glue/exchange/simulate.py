"""The simulator without a socket: the frames one connection would receive, as fast as Python runs.

`simulate(products, seed, start_ns, duration_s)` yields `(event_ns, channel, message)` for a client
that subscribes to `channels` (one message each, in order) at `start_ns`: the snapshots, the acks,
1 Hz heartbeats and every update, with `sequence_num` counted exactly as the server counts it.
`simulate_frames` yields the frame texts. Same arguments, same output, byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from glue.exchange.market import NS
from glue.exchange.protocol import Out, dumps
from glue.exchange.session import ProtocolOptions, Session
from glue.exchange.sources import SimSource

ALL_CHANNELS = ("level2", "market_trades", "ticker", "heartbeats")


def simulate_outs(
    products: Iterable[str],
    seed: int = 7,
    start_ns: int = 1_767_225_600 * NS,
    duration_s: float = 60.0,
    channels: Iterable[str] = ALL_CHANNELS,
    book_levels: int = 500,
    options: ProtocolOptions | None = None,
) -> Iterator[tuple[int, Out, int | None]]:
    """(event ns, outgoing message, sequence number or None) for one simulated connection."""
    products = list(products)
    source = SimSource(products, seed, start_ns, book_levels, duration_s)
    session = Session(source, options or ProtocolOptions())
    seq = 0

    def number(out: Out) -> int | None:
        nonlocal seq
        if not out.sequenced:
            return None
        seq += 1
        return seq - 1

    for ch in channels:
        msg: dict[str, str | list[str]] = {"type": "subscribe", "channel": ch}
        if ch != "heartbeats":
            msg["product_ids"] = products
        outs, _ = session.on_client_text(dumps(msg), start_ns)
        for out in outs:
            yield start_ns, out, number(out)
    next_hb = start_ns + NS
    while True:
        ev = source.get(session.cursor)
        if ev is None:
            break
        while session.heartbeats and next_hb <= ev.ns:
            out = session.heartbeat(next_hb)
            yield next_hb, out, number(out)
            next_hb += NS
        session.cursor += 1
        if session.cursor % 4096 == 0:
            source.note_cursor(id(session), session.cursor)  # lets the shared log drop what was sent
        for out in session.render(ev):
            yield ev.ns, out, number(out)


def simulate_frames(products: Iterable[str], **kwargs) -> Iterator[tuple[int, str]]:
    """(event ns, frame text) for one simulated connection; see `simulate_outs` for the arguments."""
    for ns, out, seq in simulate_outs(products, **kwargs):
        yield ns, out.text(seq)


def simulate(products: Iterable[str], **kwargs) -> Iterator[tuple[int, str, dict]]:
    """(event ns, channel, parsed message) for one simulated connection."""
    for ns, out, seq in simulate_outs(products, **kwargs):
        yield ns, out.channel, json.loads(out.text(seq))
