"""Inputs for the SQL landing tests: generated frames of every shape, frame records, a simulated market archive.

`records_batch()` is a hypothesis strategy of record batches (frames of every shape the fan-out and event-time
rules look at, malformed text, markers) run with the `HYPOTHESIS` settings; `frame` makes a frame record;
`write_market_archive` writes an archive as `glue ingest` does from the simulated exchange (every channel and
two data_gap markers).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from glue.exchange import simulate_frames
from glue.records import KIND_FRAME, Record
from glue.testing import fixtures as fx

START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
MISSING = object()  # a key left out of the generated object
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def frame(text: str, iseq: int, conn: str = "c1") -> Record:
    return Record(kind=KIND_FRAME, recv_ns=START_NS + iseq, conn=conn, iseq=iseq, frame=text)


PRODUCTS = ("BTC-USD", "ETH-USD", "SOL-USD", "")


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, picked with the given integer weights (hypothesis' one_of does not weigh)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                   st.text(max_size=5))
product_id = weighted(
    (12, st.sampled_from(PRODUCTS)), (2, st.just(MISSING)), (1, st.none()), (1, st.integers()),
    (1, st.floats(allow_nan=False, allow_infinity=False)), (1, st.booleans()),
    (1, st.text(st.characters(exclude_categories=["Cs"]), max_size=6)),  # any text (escapes, non-ASCII, NUL)
    (1, st.lists(st.sampled_from(PRODUCTS), max_size=2)),
)


def _obj(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not MISSING}


item_obj = st.builds(lambda pid, price: _obj(product_id=pid, price=price), product_id,
                     st.one_of(st.just(MISSING), st.sampled_from(["100.5", "1e3", "x"]), st.integers(0, 10**6)))
item = weighted((6, item_obj), (1, scalar))


def item_list(inner: st.SearchStrategy) -> st.SearchStrategy:
    """A list of items, or something that is not a list (the rule ignores it), or missing."""
    return weighted((4, st.lists(inner, max_size=4)), (6, st.just(MISSING)), (1, scalar),
                    (1, st.builds(lambda x: {"0": x}, inner)))


event = weighted(
    (6, st.builds(lambda pid, et, tk, tr, ca, pr: _obj(type=et, product_id=pid, tickers=tk, trades=tr, candles=ca,
                                                       products=pr),
                  weighted((1, product_id), (2, st.just(MISSING))), st.sampled_from(["update", "snapshot", MISSING]),
                  item_list(item), item_list(item), item_list(item), item_list(item))),
    # the common shapes: one ticker / one l2 event
    (2, st.builds(lambda pid: {"type": "update", "tickers": [_obj(type="ticker", product_id=pid, price="1")]},
                  product_id)),
    (2, st.builds(lambda pid: _obj(type="update", product_id=pid, updates=[]), product_id)),
    (1, st.one_of(scalar, st.lists(scalar, max_size=2))),
)
events = weighted((8, st.lists(event, min_size=1, max_size=3)), (1, st.just([])), (1, st.just(MISSING)),
                  (1, scalar), (1, st.builds(lambda e: {"0": e}, event)))
channel = st.sampled_from(["ticker", "market_trades", "l2_data", "heartbeats", "subscriptions", "candles",
                           "unknown", MISSING, 7])
envelope = st.builds(
    lambda ch, ev, seq, ts: _obj(channel=ch, timestamp=ts, sequence_num=seq, events=ev),
    channel, events, st.integers(0, 10**6),
    # valid, missing, unparsable and non-string stamps: none of them may abort the landing
    st.sampled_from(["2026-01-01T00:00:01.5Z", "2026-01-01T00:00:02Z", "2026-01-01 00:00:03+00:00", MISSING,
                     "garbage", "", 12, None, ["2026-01-01T00:00:00Z"]]),
)


@st.composite
def frame_texts(draw: st.DrawFn) -> str:
    """A frame as text: a generated envelope (or another JSON value), or malformed text."""
    kind = draw(st.sampled_from(["envelope"] * 12 + ["value", "truncated", "truncated", "empty", "plain"]))
    if kind in ("envelope", "truncated"):
        obj = draw(envelope)
    elif kind == "value":
        obj = draw(st.one_of(scalar, st.lists(envelope, max_size=2)))
    else:
        return "" if kind == "empty" else draw(st.text(max_size=20))
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, None, 1])))
    if kind == "truncated" and len(text) > 1:
        text = text[:draw(st.integers(1, len(text) - 1))]
    return text


@st.composite
def records_batch(draw: st.DrawFn) -> list[Record]:
    out = []
    for i in range(draw(st.integers(1, 12))):
        if draw(st.integers(0, 9)) == 0:  # a marker: fanned out by its `products` list
            prods = draw(st.lists(st.sampled_from(PRODUCTS[:3]), max_size=3))
            out.append(fx.gap(prods, START_NS, START_NS + 10**9, iseq=i))
        else:
            out.append(frame(draw(frame_texts()), i))
    return out


def write_market_archive(path: Path, duration_s: float = 240.0, seed: int = 11,
                         products: tuple[str, ...] = ("BTC-USD", "ETH-USD")) -> int:
    """An archive file as `glue ingest` writes it: the simulator's frames on every channel (tickers, trades,
    l2_data, heartbeats, acks) with receipt times a few ms after the event, plus two data_gap markers
    (one product, both products) in the middle. Returns the number of lines."""
    rng = random.Random(seed)
    frames = list(simulate_frames(list(products), seed=seed, start_ns=START_NS, duration_s=duration_s, book_levels=5))
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w") as fh:
        for i, (ns, text) in enumerate(frames):
            if i in (len(frames) // 3, 2 * len(frames) // 3):
                prods = list(products[:1]) if i < len(frames) // 2 else list(products)
                fh.write(fx.gap(prods, ns - 5 * 10**9, ns, iseq=n, conn="sim-1").to_archive_line() + "\n")
                n += 1
            rec = Record(kind=KIND_FRAME, recv_ns=ns + rng.randint(100_000, 3_000_000), conn="sim-1", iseq=n,
                         frame=text)
            fh.write(rec.to_archive_line() + "\n")
            n += 1
    return n
