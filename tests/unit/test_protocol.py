"""glue.protocol: the validator accepts the protocol's real shapes and names what is wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from glue.protocol import MALFORMED, MAX_PROBLEMS, NO_CHANNEL, classify, validate_message

TS = "2026-09-30T02:39:53.787841965Z"
L2 = {
    "channel": "l2_data",
    "timestamp": TS,
    "sequence_num": 6,
    "events": [
        {
            "type": "snapshot",
            "product_id": "BTC-USD",
            "updates": [
                {"side": "bid", "event_time": "2026-09-30T02:39:53.781Z", "price_level": "83277.25",
                 "new_quantity": "0.024"},
                {"side": "offer", "event_time": "1970-01-01T00:00:00Z", "price_level": "83277.26",
                 "new_quantity": "0"},
            ],
        }
    ],
}
TICKER = {
    "channel": "ticker",
    "client_id": "",
    "timestamp": TS,
    "sequence_num": 0,
    "events": [
        {
            "type": "snapshot",
            "tickers": [
                {"type": "ticker", "product_id": "BTC-USD", "price": "67223.5", "volume_24_h": "2401.16054813",
                 "low_24_h": "66770.64", "high_24_h": "67535.2", "low_52_w": "60001", "high_52_w": "126296",
                 "price_percent_chg_24_h": "-0.54672614199923", "best_bid": "67223.49", "best_ask": "67223.5",
                 "best_bid_quantity": "0.56309243", "best_ask_quantity": "0.25094364"}
            ],
        }
    ],
}
TRADES = {
    "channel": "market_trades",
    "timestamp": TS,
    "sequence_num": 8,
    "events": [
        {"type": "snapshot", "trades": [
            {"trade_id": "951234488", "product_id": "ETH-USD", "price": "2600.1", "size": "0.5", "side": "BUY",
             "time": "2026-09-30T02:39:53.123456Z"},
            {"trade_id": "951234487", "product_id": "ETH-USD", "price": "2600", "size": "1", "side": "SELL",
             "time": "2026-09-30T02:39:52.5Z"},
        ]}
    ],
}
HEARTBEAT = {
    "channel": "heartbeats",
    "timestamp": "2026-09-30T02:39:56.168979506Z",
    "sequence_num": 112,
    "events": [{"current_time": "2026-09-30 02:39:56.167686736 +0000 UTC m=+12242.233881028",
                "heartbeat_counter": 12242}],
}
SUBSCRIPTIONS = {
    "channel": "subscriptions",
    "timestamp": TS,
    "sequence_num": 11,
    "events": [{"subscriptions": {"heartbeats": ["heartbeats"], "level2": ["BTC-USD", "ETH-USD"]}}],
}
CANDLES = {
    "channel": "candles",
    "timestamp": TS,
    "sequence_num": 3,
    "events": [{"type": "snapshot", "candles": [
        {"start": "1688998200", "high": "1867.72", "low": "1865.63", "open": "1867.38", "close": "1866.81",
         "volume": "0.20269406", "product_id": "ETH-USD"}]}],
}
STATUS = {
    "channel": "status",
    "timestamp": TS,
    "sequence_num": 4,
    "events": [{"type": "snapshot", "products": [
        {"product_type": "SPOT", "id": "BTC-USD", "base_currency": "BTC", "quote_currency": "USD",
         "base_increment": "0.00000001", "quote_increment": "0.01", "display_name": "BTC/USD",
         "status": "online", "status_message": "", "min_market_funds": "1"}]}],
}
VALID = {"l2": L2, "ticker": TICKER, "trades": TRADES, "heartbeat": HEARTBEAT, "subs": SUBSCRIPTIONS,
         "candles": CANDLES, "status": STATUS}


@pytest.mark.parametrize("name", sorted(VALID))
def test_real_shapes_are_valid(name):
    assert validate_message(VALID[name]) == []


def test_variants_the_protocol_allows():
    hb = copy.deepcopy(HEARTBEAT)
    hb["events"][0]["heartbeat_counter"] = "3049"  # the prose docs show a string
    batch = copy.deepcopy(TICKER)
    batch["channel"] = "ticker_batch"
    for key in ("best_bid", "best_ask", "best_bid_quantity", "best_ask_quantity"):
        del batch["events"][0]["tickers"][0][key]
    no_client_id = copy.deepcopy(TICKER)
    del no_client_id["client_id"]
    assert validate_message(hb) == []
    assert validate_message(batch) == []
    assert validate_message(no_client_id) == []
    assert validate_message({"type": "error", "message": "authentication failure"}) == []
    assert validate_message({"type": "error", "message": "failure to subscribe", "reason": "x"}) == []


def _mutated(base, path, value):
    obj = copy.deepcopy(base)
    node = obj
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    ("base", "path", "value", "expected"),
    [
        (TICKER, ["events", 0, "tickers", 0, "price"], 67223.5, "events[0].tickers[0].price: must be a decimal string"),
        (TICKER, ["events", 0, "tickers", 0, "best_bid"], "abc", "not a decimal string"),
        (TICKER, ["events", 0, "tickers", 0, "price"], KeyError, "events[0].tickers[0].price: missing"),
        (TICKER, ["sequence_num"], "5", "sequence_num: must be a non-negative integer"),
        (TICKER, ["sequence_num"], True, "sequence_num: must be a non-negative integer"),
        (TICKER, ["sequence_num"], KeyError, "sequence_num: missing"),
        (TICKER, ["timestamp"], "yesterday", "not an RFC 3339 timestamp"),
        (TICKER, ["client_id"], 7, "client_id: must be a string"),
        (TICKER, ["events"], {}, "events: missing or not a list"),
        (TICKER, ["events", 0, "type"], "delta", "must be 'snapshot' or 'update'"),
        (L2, ["events", 0, "updates", 0, "side"], "ask", "must be 'bid' or 'offer'"),
        (L2, ["events", 0, "updates", 1, "new_quantity"], 0, "must be a decimal string"),
        (L2, ["events", 0, "updates", 0, "event_time"], "now", "not an RFC 3339 timestamp"),
        (L2, ["events", 0, "product_id"], KeyError, "events[0].product_id: missing"),
        (TRADES, ["events", 0, "trades", 0, "side"], "buy", "must be 'BUY' or 'SELL'"),
        (TRADES, ["events", 0, "trades", 1, "size"], 1.0, "must be a decimal string"),
        (TRADES, ["events", 0, "trades", 0, "trade_id"], 951234488, "trade_id: must be a string"),
        (HEARTBEAT, ["events", 0, "heartbeat_counter"], 12.5, "heartbeat_counter: must be an integer"),
        (HEARTBEAT, ["events", 0, "heartbeat_counter"], "12a", "heartbeat_counter: must be an integer"),
        (SUBSCRIPTIONS, ["events", 0, "subscriptions"], [], "subscriptions: missing or not an object"),
        (CANDLES, ["events", 0, "candles", 0, "start"], 1688998200, "start: must be UNIX seconds"),
        (STATUS, ["events", 0, "products", 0, "status"], 1, "status: must be a string"),
        (TICKER, ["channel"], "level2", "unknown channel 'level2'"),
        (TICKER, ["channel"], "heartbeat", "unknown channel 'heartbeat'"),
        (TICKER, ["channel"], KeyError, "channel: missing"),
    ],
)
def test_problems_are_named(base, path, value, expected):
    problems = validate_message(_mutated(base, path, value))
    assert problems, f"expected a problem containing {expected!r}"
    assert any(expected in p for p in problems), problems


def test_legacy_exchange_and_non_objects():
    legacy = {"type": "l2update", "product_id": "BTC-USD", "changes": [["buy", "1", "0.5"]], "time": TS}
    assert "legacy" in validate_message(legacy)[0]
    assert validate_message([1, 2]) == ["not a JSON object (got list)"]
    assert validate_message({"type": "error", "message": 5}) != []


def test_problem_list_is_bounded():
    broken = copy.deepcopy(L2)
    broken["events"][0]["updates"] = [{"side": "ask"}] * 5000
    problems = validate_message(broken)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1].startswith("...")


def test_classify():
    assert classify(json.dumps(L2)) == ("l2_data", ["BTC-USD"], 6, [])
    assert classify(json.dumps(TRADES).encode()) == ("market_trades", ["ETH-USD"], 8, [])
    assert classify(json.dumps(HEARTBEAT)) == ("heartbeats", [], 112, [])
    channel, products, seq, problems = classify('{"channel":"ticker",')
    assert (channel, products, seq) == (MALFORMED, [], None)
    assert problems[0].startswith("malformed JSON")
    assert classify("[1]")[0] == MALFORMED
    assert classify('{"type":"error","message":"authentication failure"}') == ("error", [], None, [])
    unknown = classify(json.dumps({**HEARTBEAT, "channel": "mystery"}))
    assert unknown[0] == "mystery" and unknown[2] == 112 and unknown[3] == ["unknown channel 'mystery'"]
    assert classify('{"type":"heartbeat"}')[0] == NO_CHANNEL


SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "coinbase"


@pytest.mark.skipif(not SHARED.is_dir(), reason="real captures in ../shared are not on this machine")
def test_real_captures_validate():
    """Both raw-envelope captures (read in place, never copied) are valid message by message."""
    raw = SHARED / "Rushabh2704__crypto-volatility" / "BTC-USD_20260404_171343.ndjson"
    wrapped = SHARED / "arianna-m__crypto-volatility-pipeline" / "BTC_USD.ndjson"
    n = 0
    with raw.open() as fh:
        for line in fh:
            channel, products, seq, problems = classify(line)
            assert problems == [] and channel == "ticker" and products == ["BTC-USD"] and seq is not None
            n += 1
    with wrapped.open() as fh:
        for line in fh:
            assert validate_message(json.loads(line)["payload"]) == []
            n += 1
    assert n > 9000
