"""glue.protocol: the validator accepts the protocol's real shapes and names what is wrong; each fast path
(decode, event time, frame facts, inspect) gives what its reference gives."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glue.protocol import (
    MALFORMED,
    MAX_PROBLEMS,
    NO_CHANNEL,
    _fast_utc_ns,
    classify,
    envelope_event_ns,
    frame_facts,
    frame_facts_reference,
    inspect_frame,
    parse_json,
    validate_message,
)
from glue.records import KIND_FRAME, Record, fanout_keys, format_rfc3339_ns, frame_products, parse_rfc3339_ns

NS = 10**9

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


# --- fast paths beside their references ---------------------------------------------------------


@given(st.integers(946684800 * NS, 4102444799 * NS))
def test_fast_parse_equals_the_reference_parser(ns: int) -> None:
    text = format_rfc3339_ns(ns)
    assert _fast_utc_ns(text) == parse_rfc3339_ns(text) == ns


@given(st.text(max_size=40))
def test_fast_parse_never_disagrees(text: str) -> None:
    fast = _fast_utc_ns(text)
    if fast is not None:
        assert fast == parse_rfc3339_ns(text)


def test_envelope_time_bounds_and_garbage() -> None:
    assert envelope_event_ns({"timestamp": "2026-01-01T00:00:00.5Z"}) == 1767225600 * NS + NS // 2
    assert envelope_event_ns({"timestamp": "1970-01-01T00:00:00Z"}) is None
    assert envelope_event_ns({"timestamp": 5}) is None
    assert envelope_event_ns(["x"]) is None


def test_parse_json_matches_json_loads() -> None:
    for text in ['{"a": NaN}', '{"a": 1e400}', '{"a": 123456789012345678901234567890}', '[1, 2]', '{"a":"\\u00e9"}']:
        assert repr(parse_json(text)) == repr(json.loads(text))


FRAMES = [
    '{"channel":"ticker","timestamp":"2026-01-01T00:00:01.5Z","sequence_num":1,"events":[{"type":"update",'
    '"tickers":[{"product_id":"BTC-USD","price":"1"},{"product_id":"ETH-USD"}]}]}',
    '{"channel":"l2_data","timestamp":"2026-01-01T00:00:01Z","events":[{"product_id":"SOL-USD","updates":[]}]}',
    '{"channel":"market_trades","timestamp":"2026-01-01T00:00:01Z","events":[{"trades":[{"product_id":"X-USD"}]}]}',
    '{"channel":"heartbeats","timestamp":"2026-01-01T00:00:01Z","events":[{"current_time":"x"}]}',
    '{"events":{"product_id":"BTC-USD"}}', '{"events":[1,"a",{"product_id":5}]}', '{"events":[{"tickers":[3]}]}',
    '{"timestamp":7,"events":[{"tickers":[{"product_id":["BTC-USD"]}]}]}', '[1,2]', '{not json', '',
    '{"timestamp":"2026-01-01T00:00:01+01:00","events":[{"product_id":"A"}],"x":NaN}', 'null',
    '{"events":null,"timestamp":"2026-13-01T00:00:00Z"}', '{"events":[{"products":[{"product_id":"B"}]}]}',
]


def test_frame_facts_follow_the_reference_rule() -> None:
    for text in FRAMES:
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        assert frame_facts(text) == (frame_products(obj), envelope_event_ns(obj)), text


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(
                        st.sampled_from(["events", "tickers", "trades", "product_id", "timestamp", "x"]), c,
                        max_size=4), max_leaves=12))
def test_frame_facts_on_random_shapes(obj) -> None:
    text = json.dumps(obj)
    try:
        expected = frame_products(obj)
    except TypeError:  # the reference rule raises on e.g. {"events": true}; landing files it under _control
        expected = []
    assert frame_facts(text) == (expected, envelope_event_ns(obj)) == frame_facts_reference(text)
    assert inspect_frame(text).keys == fanout_keys(Record(KIND_FRAME, 0, "c", 0, frame=text))


def test_fast_json_parse_equals_json_loads():
    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    values = st.recursive(leaves, lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids), max_leaves=20)

    @settings(max_examples=100, deadline=None)
    @given(values)
    def roundtrip(value):
        text = json.dumps(value)
        assert parse_json(text) == json.loads(text)

    roundtrip()
    for text in ['{"a":NaN}', '{"a":123456789012345678901234567890}', '{"a":1.5e400}', '{"a":"\\ud800"}']:
        assert repr(parse_json(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", FRAMES)
def test_frame_facts_equal_their_reference_and_inspect_keys_equal_fanout_keys(text: str) -> None:
    assert frame_facts(text) == frame_facts_reference(text)
    assert inspect_frame(text).keys == fanout_keys(Record(KIND_FRAME, 0, "c", 0, frame=text))
