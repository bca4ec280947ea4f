"""The fake exchange over a real socket: a `websockets` client against the in-process ExchangeServer."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus

from glue.config import ExchangeSettings
from glue.exchange import ExchangeOptions, ExchangeServer
from glue.exchange.market import NS
from glue.records import KIND_FRAME, KIND_MARKER, Record, parse_rfc3339_ns

START_NS = 1_767_225_600 * NS
PRODUCTS = ["BTC-USD", "ETH-USD"]
DATA = {"l2_data", "ticker", "market_trades"}
RUSHABH = Path("/work/shared/data/coinbase/Rushabh2704__crypto-volatility/BTC-USD_20260404_171343.ndjson")


def client(url: str):
    # max_queue=None: at speed 0 the server keeps writing until it sees our close; a bounded queue would
    # stop reading before its close frame arrives and wait for the close timeout.
    return connect(url, max_size=None, max_queue=None)


def settings(**kw) -> ExchangeSettings:
    return dataclasses.replace(ExchangeSettings(), port=0, speed=kw.pop("speed", 0.0), **kw)


def options(**kw) -> ExchangeOptions:
    return ExchangeOptions(start_at_ns=START_NS, status_interval_s=0, book_levels=kw.pop("book_levels", 30), **kw)


def run(coro, timeout_s: float = 30):
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


async def subscribe(ws, channels=("level2", "market_trades", "ticker", "heartbeats"), products=PRODUCTS):
    for ch in channels:
        msg = {"type": "subscribe", "channel": ch}
        if ch != "heartbeats":
            msg["product_ids"] = list(products)
        await ws.send(json.dumps(msg))


async def recv_n(ws, n: int, timeout_s: float = 10) -> list[str]:
    # One timeout for all: a wait_for per message would make this client slower than the server.
    async def take() -> list[str]:
        return [await ws.recv() for _ in range(n)]

    return await asyncio.wait_for(take(), timeout_s)


async def recv_until_closed(ws, limit: int = 1_000_000) -> tuple[list[str], ConnectionClosed]:
    out = []
    try:
        while len(out) < limit:
            out.append(await ws.recv())
    except ConnectionClosed as exc:
        return out, exc
    raise AssertionError("connection was not closed")


async def recv_until_ack(ws) -> list[dict]:
    out = []
    while not out or out[-1].get("channel") != "subscriptions":
        out.append(json.loads(await ws.recv()))
    return out


def parsed(frames: list[str]) -> list[dict]:
    return [json.loads(f) for f in frames]


def data_count(frames: list[str]) -> int:
    n = 0
    for f in frames:
        try:
            if json.loads(f).get("channel") in DATA:
                n += 1
        except ValueError:
            pass
    return n


# ---- the subscribe flow ------------------------------------------------------------------------------
def test_subscribe_flow_snapshots_then_cumulative_acks() -> None:
    async def main():
        async with ExchangeServer(settings(), options=options()) as srv, client(srv.url) as ws:
            await subscribe(ws, ("level2",))
            first = await recv_until_ack(ws)
            await subscribe(ws, ("market_trades",))
            second = await recv_until_ack(ws)
            await subscribe(ws, ("heartbeats",))
            third = await recv_until_ack(ws)
            return first, second, third

    first, second, third = run(main())
    assert [m["sequence_num"] for m in first] == list(range(3))  # nothing before the level2 snapshots
    seqs = [m["sequence_num"] for m in first + second + third]
    assert seqs == list(range(len(seqs)))
    first, second, third = (
        [m for m in x if m["channel"] == "subscriptions" or m["events"][0].get("type") == "snapshot"]
        for x in (first, second, third)
    )
    assert [m["channel"] for m in first] == ["l2_data", "l2_data", "subscriptions"]
    snap = first[0]["events"][0]
    assert snap["type"] == "snapshot" and snap["product_id"] == "BTC-USD"
    bids = [float(u["price_level"]) for u in snap["updates"] if u["side"] == "bid"]
    offers = [float(u["price_level"]) for u in snap["updates"] if u["side"] == "offer"]
    assert len(bids) + len(offers) == len(snap["updates"]) == 60
    assert bids == sorted(bids, reverse=True) and offers == sorted(offers) and bids[0] < offers[0]
    assert first[2]["events"][0]["subscriptions"] == {"level2": PRODUCTS}
    assert [m["channel"] for m in second] == ["market_trades", "market_trades", "subscriptions"]
    trades = second[0]["events"][0]["trades"]
    assert second[0]["events"][0]["type"] == "snapshot" and len(trades) == 100
    assert int(trades[0]["trade_id"]) == int(trades[-1]["trade_id"]) + 99
    assert second[2]["events"][0]["subscriptions"] == {"level2": PRODUCTS, "market_trades": PRODUCTS}
    assert third[0]["events"][0]["subscriptions"] == {
        "heartbeats": ["heartbeats"], "level2": PRODUCTS, "market_trades": PRODUCTS,
    }
    assert all(m["client_id"] == "" for m in first + second + third)  # by default, as the real feed


def test_client_id_can_be_left_out_for_captures_that_lack_it() -> None:
    async def main():
        async with ExchangeServer(settings(emit_client_id=False), options=options()) as srv, client(srv.url) as ws:
            await subscribe(ws, ("level2", "heartbeats"))
            return await recv_until_ack(ws)

    assert all("client_id" not in m for m in run(main()))


def test_ack_can_come_before_the_snapshots_and_client_id_can_be_on() -> None:
    async def main():
        s = settings(ack_after_snapshots=False, emit_client_id=True)
        async with ExchangeServer(s, options=options()) as srv, client(srv.url) as ws:
            await subscribe(ws, ("ticker",))
            return parsed(await recv_n(ws, 3))

    msgs = run(main())
    assert [m["channel"] for m in msgs] == ["subscriptions", "ticker", "ticker"]
    assert all(m["client_id"] == "" for m in msgs)
    tick = msgs[1]["events"][0]["tickers"][0]
    assert msgs[1]["events"][0]["type"] == "snapshot"
    assert float(tick["best_bid"]) < float(tick["best_ask"]) and float(tick["best_bid_quantity"]) > 0


def test_one_sequence_counter_over_all_channels_and_errors_carry_none() -> None:
    async def main():
        async with ExchangeServer(settings(), options=options()) as srv, client(srv.url) as ws:
            await subscribe(ws)
            await ws.send(json.dumps({"type": "subscribe", "channel": "heartbeat"}))
            return parsed(await recv_n(ws, 1500))

    msgs = run(main())
    errors = [m for m in msgs if m.get("type") == "error"]
    assert errors == [{"type": "error", "message": "authentication failure"}]
    seqs = [m["sequence_num"] for m in msgs if "sequence_num" in m]
    assert seqs == list(range(len(msgs) - 1))
    assert {m["channel"] for m in msgs if "channel" in m} == DATA | {"subscriptions", "heartbeats"}
    times = [parse_rfc3339_ns(m["timestamp"]) for m in msgs if m.get("channel") in DATA]
    assert times == sorted(times)


def test_bad_messages_get_an_error_and_the_connection_stays_open() -> None:
    async def main():
        async with ExchangeServer(settings(), options=options()) as srv, client(srv.url) as ws:
            for bad in ("not json", "[]", '{"type":"subscribe"}', '{"type":"subscribe","channel":"level2"}',
                        '{"type":"subscribe","channel":"user","product_ids":["BTC-USD"]}',
                        '{"type":"hello","channel":"ticker","product_ids":["BTC-USD"]}'):
                await ws.send(bad)
            errors = parsed(await recv_n(ws, 6))
            await subscribe(ws, ("ticker",), ["BTC-USDC"])  # aliased to BTC-USD
            return errors, parsed(await recv_n(ws, 3))

    errors, after = run(main())
    assert errors == [{"type": "error", "message": "authentication failure"}] * 6
    assert after[0]["events"][0]["tickers"][0]["product_id"] == "BTC-USD"
    assert after[1]["events"][0]["subscriptions"] == {"ticker": ["BTC-USD"]}
    assert after[1]["sequence_num"] == 1


def test_unsubscribe_stops_a_channel_and_acks_what_is_left() -> None:
    async def main():
        async with ExchangeServer(settings(), options=options()) as srv, client(srv.url) as ws:
            await subscribe(ws, ("ticker", "market_trades"), ["BTC-USD"])
            await recv_n(ws, 4)
            await ws.send(json.dumps({"type": "unsubscribe", "channel": "ticker", "product_ids": ["BTC-USD"]}))
            msgs = parsed(await recv_n(ws, 400))
            return msgs

    msgs = run(main())
    acks = [m for m in msgs if m["channel"] == "subscriptions"]
    assert acks[0]["events"][0]["subscriptions"] == {"market_trades": ["BTC-USD"]}
    after = msgs[msgs.index(acks[0]) + 1 :]
    assert after and {m["channel"] for m in after} == {"market_trades"}


def _apply_l2(books: dict[str, dict], event: dict) -> None:
    book = books.setdefault(event["product_id"], {})
    if event["type"] == "snapshot":
        book.clear()
    for u in event["updates"]:
        if u["new_quantity"] == "0":
            assert (u["side"], u["price_level"]) in book, "an update deletes a level the client never had"
            del book[(u["side"], u["price_level"])]
        else:
            book[(u["side"], u["price_level"])] = u["new_quantity"]


@pytest.mark.parametrize("fresh", [True, False], ids=["snapshot", "no-resubscribe-snapshot"])
def test_level2_unsubscribe_then_subscribe_sends_a_fresh_snapshot(fresh: bool) -> None:
    async def main():
        async with ExchangeServer(settings(), options=options(resubscribe_snapshot=fresh)) as srv, \
                client(srv.url) as ws:
            await subscribe(ws, ("level2",))
            before = parsed(await recv_n(ws, 300))
            for kind in ("unsubscribe", "subscribe"):
                await ws.send(json.dumps({"type": kind, "channel": "level2", "product_ids": PRODUCTS}))
            after: list[dict] = []
            while sum(m["channel"] == "subscriptions" for m in after) < 2:  # the unsubscribe's ack, the subscribe's
                after.append(json.loads(await ws.recv()))
            after += parsed(await recv_n(ws, 100))
            return before, after, srv.received[1]

    before, after, received = run(main())
    assert [json.loads(m)["type"] for m in received] == ["subscribe", "unsubscribe", "subscribe"]
    msgs = before + after
    assert [m["sequence_num"] for m in msgs] == list(range(len(msgs)))
    acks = [i for i, m in enumerate(msgs) if m["channel"] == "subscriptions"]
    unsub_ack, sub_ack = acks[-2:]
    assert msgs[unsub_ack]["events"][0]["subscriptions"] == {}
    assert msgs[sub_ack]["events"][0]["subscriptions"] == {"level2": PRODUCTS}
    books: dict[str, dict] = {}
    for m in msgs[:unsub_ack]:
        if m["channel"] == "l2_data":
            _apply_l2(books, m["events"][0])
    between = msgs[unsub_ack + 1 : sub_ack]
    if not fresh:
        assert between == [] and all(m["events"][0]["type"] == "update" for m in msgs[sub_ack + 1 :])
        return
    # nothing while unsubscribed, then one snapshot per product: the book the client already has (no
    # update was skipped while unsubscribed), and the updates after it apply to it cleanly
    assert [(m["channel"], m["events"][0]["type"], m["events"][0]["product_id"]) for m in between] == [
        ("l2_data", "snapshot", p) for p in PRODUCTS
    ]
    fresh_books: dict[str, dict] = {}
    for m in between:
        _apply_l2(fresh_books, m["events"][0])
    assert fresh_books == books and all(len(b) == 60 for b in books.values())
    for m in msgs[sub_ack + 1 :]:
        assert m["events"][0]["type"] == "update"
        _apply_l2(fresh_books, m["events"][0])


def test_subscribe_deadline_closes_the_connection() -> None:
    async def main():
        async with ExchangeServer(settings(subscribe_deadline_s=0.3), options=options()) as srv, client(srv.url) as ws:
            t0 = time.monotonic()
            frames, exc = await recv_until_closed(ws)
            return frames, exc, time.monotonic() - t0

    frames, exc, took = run(main())
    assert frames == [] and exc.rcvd.code == 1008 and 0.2 < took < 3


def test_heartbeats_at_1_hz_with_a_counter_that_survives_reconnects() -> None:
    async def main():
        async with ExchangeServer(settings(speed=1.0), options=ExchangeOptions(status_interval_s=0)) as srv:
            async with client(srv.url) as ws:
                await subscribe(ws, ("heartbeats",))
                t0 = time.monotonic()
                first = parsed(await recv_n(ws, 4))
                took = time.monotonic() - t0
            async with client(srv.url) as ws:
                await subscribe(ws, ("heartbeats",))
                second = parsed(await recv_n(ws, 2))
            return first, second, took

    first, second, took = run(main())
    assert first[0]["channel"] == "subscriptions"
    counters = [m["events"][0]["heartbeat_counter"] for m in first[1:]]
    assert all(isinstance(c, int) for c in counters)
    assert counters == list(range(counters[0], counters[0] + 3))
    assert 1.5 < took < 4.5
    cur = first[1]["events"][0]["current_time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC m=\+\d+\.\d{9}", cur)
    assert second[1]["sequence_num"] == 1  # a new connection counts from 0 ...
    assert second[1]["events"][0]["heartbeat_counter"] > counters[-1]  # ... the heartbeat counter does not


def test_fixed_start_gives_byte_identical_streams() -> None:
    async def one():
        async with ExchangeServer(settings(), options=options()) as srv, client(srv.url) as ws:
            await subscribe(ws)
            return await recv_n(ws, 800)

    assert run(one()) == run(one())


def test_sent_log_and_sent_hold_exactly_what_the_client_received(tmp_path: Path) -> None:
    log_path = tmp_path / "sent.ndjson"

    async def main():
        async with ExchangeServer(settings(), options=options(), sent_log=str(log_path)) as srv:
            async with client(srv.url) as ws:
                await subscribe(ws)
                got = await recv_n(ws, 300)
            await asyncio.sleep(0.1)
            return got, dict(srv.sent)

    got, sent = run(main())
    lines = [json.loads(x) for x in log_path.read_text().splitlines()]
    assert [x["frame"] for x in lines][: len(got)] == got
    assert {x["conn"] for x in lines} == {1}
    assert sent[1] == [x["frame"] for x in lines]


# ---- faults -------------------------------------------------------------------------------------------
def fault_run(faults: list[str], n: int | None = None, channels=("level2", "market_trades", "ticker", "heartbeats"),
              speed: float = 0.0, conns: int = 1, **opt):
    """Connect `conns` times in a row; per connection: (frames received, close exception or None)."""

    async def main():
        async with ExchangeServer(settings(speed=speed), faults=faults, options=options(**opt)) as srv:
            results = []
            for _ in range(conns):
                async with client(srv.url) as ws:
                    await subscribe(ws, channels)
                    if n is None:
                        results.append(await recv_until_closed(ws))
                    else:
                        results.append((await recv_n(ws, n), None))
            return results

    return run(main())


@pytest.mark.parametrize(("how", "code"), [("1000", 1000), ("1011", 1011), ("reset", 1006)])
def test_drop_after_n_data_messages(how: str, code: int) -> None:
    ((frames, exc),) = fault_run([f"drop:50:{how}"], n=None)
    assert data_count(frames) == 50
    if how == "reset":
        assert isinstance(exc, ConnectionClosedError) and exc.rcvd is None
    else:
        assert exc.rcvd.code == code
        assert isinstance(exc, ConnectionClosedOK if code == 1000 else ConnectionClosedError)


def test_faults_apply_to_their_connection_only() -> None:
    async def main():
        faults = ["drop:20:1000@2"]
        async with ExchangeServer(settings(), faults=faults, options=options()) as srv:
            out = []
            for _ in range(3):
                async with client(srv.url) as ws:
                    await subscribe(ws, ("ticker",))
                    try:
                        out.append(len(await recv_n(ws, 60, timeout_s=5)))
                    except ConnectionClosed:
                        out.append("closed")
            return out

    assert run(main()) == [60, "closed", 60]


def test_skip_seq_leaves_a_gap() -> None:
    ((frames, _),) = fault_run(["skip_seq:40:3"], n=200)
    seqs = [json.loads(f)["sequence_num"] for f in frames]
    jumps = [b - a for a, b in itertools.pairwise(seqs) if b - a != 1]
    assert jumps == [4]


def test_duplicate_sends_a_message_twice() -> None:
    ((frames, _),) = fault_run(["duplicate:40"], n=200)
    seqs = [json.loads(f)["sequence_num"] for f in frames]
    assert len(seqs) - len(set(seqs)) == 1
    i = next(i for i in range(1, len(frames)) if frames[i] == frames[i - 1])
    assert json.loads(frames[i])["channel"] in DATA


def test_reorder_swaps_two_messages() -> None:
    ((frames, _),) = fault_run(["reorder:40"], n=200)
    seqs = [json.loads(f)["sequence_num"] for f in frames]
    assert sorted(seqs) == list(range(200))
    assert sum(1 for a, b in itertools.pairwise(seqs) if b < a) == 1


def test_malformed_unknown_channel_and_error_frame() -> None:
    ((frames, _),) = fault_run(["malformed:30", "unknown_channel:60", "error_frame:90"], n=300)
    bad = []
    for f in frames:
        try:
            json.loads(f)
        except ValueError:
            bad.append(f)
    assert len(bad) == 1
    msgs = [json.loads(f) for f in frames if f not in bad]
    unknown = [m for m in msgs if m.get("channel") == "vwap_preview"]
    assert len(unknown) == 1 and isinstance(unknown[0]["sequence_num"], int)
    errors = [m for m in msgs if m.get("type") == "error"]
    assert errors == [{"type": "error", "message": "internal error, please retry"}]
    seqs = [m["sequence_num"] for m in msgs if "sequence_num" in m]
    assert seqs == list(range(len(seqs)))  # inserted frames keep the counter whole


def test_stall_silence_and_stall_with_heartbeats() -> None:
    async def main(spec: str):
        async with ExchangeServer(settings(), faults=[spec], options=options()) as srv, client(srv.url) as ws:
            await subscribe(ws)
            stamps = []
            for _ in range(120):
                f = await ws.recv()
                stamps.append((time.monotonic(), json.loads(f)))
            return stamps

    # Assertions leave slack for a loaded machine: a late receipt of the last message before a stall can
    # only shorten the silence we observe, by at most the scheduling delay.
    stamps = run(main("stall:30:2.0:silence"))
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(stamps)]
    assert max(gaps) >= 1.0
    stamps = run(main("stall:30:2.5:heartbeats"))
    data_times = [t for t, m in stamps if m.get("channel") in DATA]
    t_stall, t_resume = data_times[29], data_times[30]
    assert t_resume - t_stall >= 1.5  # data held back ...
    during = [m["channel"] for t, m in stamps if t_stall < t < t_resume]
    assert during and set(during) == {"heartbeats"}  # ... while heartbeats kept coming


def test_oversize_snapshot() -> None:
    ((frames, _),) = fault_run(["oversize_snapshot:6"], n=3, channels=("level2",))
    assert len(frames[0]) >= 6_000_000 and json.loads(frames[0])["channel"] == "l2_data"
    assert len(frames[1]) >= 6_000_000


def test_slow_send() -> None:
    t0 = time.monotonic()
    ((frames, _),) = fault_run(["slow_send:40"], n=20, channels=("ticker",))
    assert time.monotonic() - t0 >= 0.75 and len(frames) == 20


def test_no_heartbeats_keeps_data_flowing() -> None:
    ((frames, _),) = fault_run(["no_heartbeats"], n=3000)
    channels = {json.loads(f)["channel"] for f in frames}
    assert "heartbeats" not in channels and channels >= DATA


def test_idle_close_only_without_heartbeats() -> None:
    ((_frames, exc),) = fault_run(["idle_close:0.5"], n=None, channels=("ticker",), speed=1.0)
    assert exc.rcvd.code == 1000 and "idle" in exc.rcvd.reason
    # with heartbeats the connection stays open (10 messages take about 2 s here)
    ((_frames, exc),) = fault_run(["idle_close:0.5"], n=10, channels=("ticker", "heartbeats"), speed=1.0)
    assert exc is None


def test_reject_rate_answers_429() -> None:
    async def main():
        async with ExchangeServer(settings(), faults=["reject_rate:2"], options=options()) as srv:
            codes = []
            for _ in range(4):
                try:
                    async with client(srv.url):
                        codes.append(101)
                except InvalidStatus as exc:
                    codes.append(exc.response.status_code)
            await asyncio.sleep(1.1)
            async with client(srv.url):
                codes.append(101)
            return codes, srv.rejected

    codes, rejected = run(main())
    assert codes == [101, 101, 429, 429, 101] and rejected == 2


# ---- recordings ---------------------------------------------------------------------------------------
def _frame(channel: str, ns: int, seq: int, events: list) -> str:
    from glue.records import format_rfc3339_ns

    return json.dumps({"channel": channel, "timestamp": format_rfc3339_ns(ns), "sequence_num": seq,
                       "events": events})


def _write_archive(path: Path, frames: list[str], with_extras: bool = True) -> None:
    recs = []
    for i, f in enumerate(frames):
        recs.append(Record(KIND_FRAME, START_NS + i, "c1", i, frame=f))
    if with_extras:
        recs.insert(1, Record(KIND_MARKER, START_NS, "c1", 99, marker={"type": "connect", "detail": {}}))
        recs.insert(2, Record(KIND_FRAME, START_NS, "c1", 98, frame=_frame("subscriptions", START_NS, 1, [])))
        recs.insert(3, Record(KIND_FRAME, START_NS, "c1", 97, frame=_frame(
            "heartbeats", START_NS, 2, [{"current_time": "x", "heartbeat_counter": 5}])))
    path.write_text("".join(r.to_archive_line() + "\n" for r in recs))


def _ticker(pid: str, price: str) -> list:
    return [{"type": "update", "tickers": [{"type": "ticker", "product_id": pid, "price": price,
                                             "best_bid": price, "best_ask": price}]}]


def test_recording_replay_filters_renumbers_and_ends(tmp_path: Path) -> None:
    frames = []
    for i in range(20):
        pid = PRODUCTS[i % 2]
        frames.append(_frame("ticker", START_NS + i * 200_000_000, 1000 + i, _ticker(pid, str(100 + i))))
        frames.append(_frame("l2_data", START_NS + i * 200_000_000, 2000 + i,
                             [{"type": "update", "product_id": pid, "updates": []}]))
    path = tmp_path / "rec.ndjson"
    _write_archive(path, frames)

    async def main(speed: float):
        s = settings(source="recording", recording=(str(path),), speed=speed)
        async with ExchangeServer(s, options=options()) as srv, client(srv.url) as ws:
            await subscribe(ws, ("ticker",), ["BTC-USD"])
            t0 = time.monotonic()
            got, exc = await recv_until_closed(ws)
            return got, exc, time.monotonic() - t0

    got, exc, took = run(main(0.0))
    assert exc.rcvd.code == 1000 and exc.rcvd.reason == "replay finished"
    assert json.loads(got[0])["channel"] == "subscriptions"
    want = [f for f in frames if '"ticker"' in f and "BTC-USD" in f]
    assert len(got) == 1 + len(want) == 11
    for i, (g, w) in enumerate(zip(got[1:], want, strict=True), start=1):
        assert json.loads(g)["sequence_num"] == i
        assert re.sub(r'"sequence_num": \d+', "", g) == re.sub(r'"sequence_num": \d+', "", w)  # else unchanged
    # real time: 20 frames over 3.8 s of recording; at speed 4 that is about 0.95 s
    got, exc, took = run(main(4.0))
    assert len(got) == 11 and 0.7 < took < 3.0


def test_recording_keep_open_sends_heartbeats_after_the_end(tmp_path: Path) -> None:
    path = tmp_path / "rec.ndjson"
    _write_archive(path, [_frame("ticker", START_NS + i, i, _ticker("BTC-USD", "1")) for i in range(3)])

    async def main():
        s = settings(source="recording", recording=(str(path),))
        async with ExchangeServer(s, options=options(on_end="keep_open")) as srv, client(srv.url) as ws:
            await subscribe(ws, ("ticker", "heartbeats"), ["BTC-USD"])
            return parsed(await recv_n(ws, 7))

    msgs = run(main())
    assert [m["channel"] for m in msgs[-2:]] == ["heartbeats", "heartbeats"]
    assert sum(1 for m in msgs if m["channel"] == "ticker") == 3


@pytest.mark.skipif(not RUSHABH.exists(), reason="needs the real captures in ../shared (not in a fresh clone)")
def test_real_capture_replays_every_frame(tmp_path: Path) -> None:
    # A tiny stand-in for `glue import` (raw envelopes -> Record frames); the real importer lives elsewhere.
    lines = [x for x in RUSHABH.read_text().splitlines() if x.strip()]
    path = tmp_path / "rushabh.ndjson"
    recs = [Record(KIND_FRAME, parse_rfc3339_ns(json.loads(x)["timestamp"]), "import", i, frame=x)
            for i, x in enumerate(lines)]
    path.write_text("".join(r.to_archive_line() + "\n" for r in recs))

    async def main():
        s = settings(source="recording", recording=(str(path),))
        async with ExchangeServer(s, options=options()) as srv, client(srv.url) as ws:
            await subscribe(ws, ("ticker", "heartbeats"), ["BTC-USD"])
            return await recv_until_closed(ws)

    got, exc = run(main(), timeout_s=60)
    msgs = parsed(got)
    tickers = [m for m in msgs if m["channel"] == "ticker"]
    assert len(tickers) == len(lines) == 3108
    assert [m["timestamp"] for m in tickers] == [json.loads(x)["timestamp"] for x in lines]
    assert [m["sequence_num"] for m in msgs] == list(range(len(msgs)))
    hb = [m for m in msgs if m["channel"] == "heartbeats"]
    assert 850 < len(hb) < 910  # 15 minutes of recording time, one per second
    assert exc.rcvd.code == 1000


# ---- the command, as a real process ---------------------------------------------------------------------
def test_glue_exchange_process_serves_logs_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    sent_log = tmp_path / "sent.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "glue", "exchange", "--port", "0", "--speed", "0", "--start-at",
         "2026-01-01T00:00:00Z", "--book-levels", "20", "--sent-log", str(sent_log), "--fault", "drop:100:1011"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        assert url.startswith("ws://127.0.0.1:")

        async def main():
            async with client(url) as ws:
                await subscribe(ws)
                first, exc = await recv_until_closed(ws)
            async with client(url) as ws:
                await subscribe(ws, ("ticker",))
                second = await recv_n(ws, 20)
            return first, exc, second

        first, exc, second = run(main())
        assert exc.rcvd.code == 1011 and data_count(first) == 100
        assert len(second) == 20  # the fault was for connection 1 only
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "exchange done: 2 connections" in out
    logged = [json.loads(x) for x in sent_log.read_text().splitlines()]
    assert [x["frame"] for x in logged if x["conn"] == 1] == first
    assert [x["frame"] for x in logged if x["conn"] == 2][:20] == second


def test_glue_exchange_rejects_a_bad_fault_with_one_line() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "glue", "exchange", "--fault", "drop:5:999"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert done.stderr.strip().startswith("error: fault 'drop:5:999'") and "Traceback" not in done.stderr


def test_reset_loses_nothing_the_sent_log_claims_even_for_a_slow_reader() -> None:
    faults = ["oversize_snapshot:6", "drop:20:reset"]  # 12 MB of snapshots: more than the socket buffers

    async def main():
        async with ExchangeServer(settings(), faults=faults, options=options()) as srv:
            async with connect(srv.url, max_size=None) as ws:  # bounded queue: real backpressure
                await subscribe(ws)
                await asyncio.sleep(1.0)  # a slow consumer: the server's buffers fill up meanwhile
                got = []
                try:
                    while True:
                        got.append(await ws.recv())
                except ConnectionClosedError as exc:
                    assert exc.rcvd is None  # reset, no close frame
            return got, srv.sent[1]

    got, sent = run(main())
    assert data_count(got) == 20
    assert got == sent
