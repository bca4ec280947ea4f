"""The Coinbase Advanced Trade wire format, in one place: decode, validate, inspect.

Every Python reader of a WebSocket frame goes through this module (the SQL landing versions parse in DuckDB,
checked against it by tests/sql). Each fast path stands beside the reference it must equal, and
tests/unit/test_protocol.py checks that they agree:

* **decode**: `parse_json` (msgspec, falling back to the reference `json.loads`); `frame_facts` (a typed
  msgspec read of the product ids and the envelope time, beside `frame_facts_reference`:
  `glue.records.frame_products` + `envelope_event_ns` over `json.loads`); `timestamp_event_ns` (a cached
  fast form of Coinbase's `...Z` stamps, beside the reference `glue.records.parse_rfc3339_ns`).
* **validate**: `validate_message(obj)` lists what is wrong with one parsed message against the protocol
  fact sheet (an empty list means valid); `validate_frame(text)` / `classify(text)` parse and validate a raw
  frame in one pass (`glue check`).
* **inspect**: `inspect_frame(text)` classifies a received frame once, never raising (data, control,
  heartbeat, error frame, unknown channel, bad), with the Kafka keys `glue.records.fanout_keys` gives it:
  the ingest hot path (`glue.ingest.tracker` follows its sequence numbers).
* `canonical_product` is the product aliasing rule (1.5), shared by the fake exchange and the ingester.

What validation checks (fact sheet Part 1, sections 1.3-1.7):
* the envelope: `channel` (a known market-data channel), `timestamp` (RFC 3339), `sequence_num`
  (a non-negative JSON integer), `events` (a list of objects), `client_id` optional (a string);
* error frames `{"type":"error","message":...}` (optional `reason`) have no channel and no sequence;
* per channel, the event fields, with prices, sizes, volumes and percentages as **decimal strings**
  (never JSON numbers), `heartbeat_counter` as an integer or a string of digits, `side` values
  (`bid`/`offer` in l2_data, `BUY`/`SELL` in market_trades), RFC 3339 times where the protocol has them.
Extra keys are allowed everywhere (the exchange may add fields). A message with many bad items
(e.g. a broken snapshot with thousands of levels) reports at most `MAX_PROBLEMS` problems.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

from glue.records import CONTROL_KEY, frame_products, parse_rfc3339_ns

MAX_PROBLEMS = 20

# === decode ====================================================================================

_fast_decode = msgspec.json.Decoder().decode


def parse_json(text: str | bytes) -> Any:
    """`json.loads` semantics, about twice as fast: msgspec first, `json.loads` (the reference) when it refuses.

    msgspec is strict JSON; json.loads also takes NaN/Infinity and huge integers. Falling back keeps the
    result identical to `json.loads` (which `glue.records.fanout_keys` uses) in every case.
    """
    try:
        return _fast_decode(text)
    except Exception:
        return json.loads(text)


MIN_EVENT_NS = 946684800 * 10**9  # 2000-01-01: sanity bounds, so one corrupt stamp cannot stretch a grid
MAX_EVENT_NS = 4102444800 * 10**9  # 2100-01-01


def envelope_event_ns(obj: Any) -> int | None:
    """The envelope timestamp of a parsed message as epoch ns, or None if missing or implausible."""
    if not isinstance(obj, dict):
        return None
    return timestamp_event_ns(obj.get("timestamp"))


def timestamp_event_ns(ts: Any) -> int | None:
    """An envelope `timestamp` value as epoch ns, or None if not a string, unparsable or implausible."""
    if not isinstance(ts, str):
        return None
    ns = _fast_utc_ns(ts)
    if ns is None:
        try:
            ns = parse_rfc3339_ns(ts)
        except ValueError:
            return None
    return ns if MIN_EVENT_NS <= ns < MAX_EVENT_NS else None


_SECOND_NS: dict[str, int | None] = {}


def _fast_utc_ns(ts: str) -> int | None:
    """The common Coinbase form `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, exactly; None for anything else.

    The whole-second prefix is parsed once by parse_rfc3339_ns (the reference) and cached (a stream has ~1
    new second per second), so the result equals parse_rfc3339_ns by construction; the unit tests check it.
    """
    n = len(ts)
    if n < 20 or ts[-1] != "Z" or (n > 20 and (ts[19] != "." or n > 30)):
        return None
    prefix = ts[:19]
    base = _SECOND_NS.get(prefix, -1)
    if base == -1:
        try:
            base = parse_rfc3339_ns(prefix + "Z")
        except ValueError:
            base = None
        if len(_SECOND_NS) > 100_000:
            _SECOND_NS.clear()
        _SECOND_NS[prefix] = base
    if base is None:
        return None
    if n == 20:
        return base
    frac = ts[20:-1]
    if not frac.isdecimal():
        return None
    return base + int(frac) * 10 ** (9 - len(frac))


class _Item(msgspec.Struct):
    product_id: Any = None


class _Event(msgspec.Struct):
    product_id: Any = None
    tickers: list[_Item] | None = None
    trades: list[_Item] | None = None
    candles: list[_Item] | None = None
    products: list[_Item] | None = None


class _Envelope(msgspec.Struct):
    """Only the fields `frame_facts` needs (envelope timestamp, product ids); unknown fields are skipped."""

    timestamp: Any = None
    events: list[_Event] | None = None


_typed_decode = msgspec.json.Decoder(_Envelope).decode


def frame_facts_reference(text: str) -> tuple[list[str], int | None]:
    """(products per `glue.records.frame_products`, envelope event time) over `json.loads`: the reference."""
    try:
        obj = parse_json(text)
    except (ValueError, TypeError, RecursionError):
        return [], None
    try:
        products = frame_products(obj)
    except TypeError:  # e.g. {"events": true}: not a protocol message, no product
        products = []
    return products, envelope_event_ns(obj)


def frame_facts(text: str) -> tuple[list[str], int | None]:
    """`frame_facts_reference(text)`, faster: the typed msgspec path reads only what it needs.

    Any frame it cannot type (other shapes, bad JSON, NaN, ...) goes through the reference, so the result
    is always the reference rule's.
    """
    try:
        env = _typed_decode(text)
    except Exception:
        return frame_facts_reference(text)
    found: set[str] = set()
    for event in env.events or ():
        if isinstance(event.product_id, str):
            found.add(event.product_id)
        for items in (event.tickers, event.trades, event.candles, event.products):
            if items:
                for item in items:
                    if isinstance(item.product_id, str):
                        found.add(item.product_id)
    return (sorted(found) if len(found) > 1 else list(found)), timestamp_event_ns(env.timestamp)


# === validate ==================================================================================

# Times repeat: the envelope timestamp is read twice per frame (validate + event time), and all
# levels of an l2_data event share one event_time, so a small cache saves most of the parsing.
_parse_time = functools.lru_cache(maxsize=256)(parse_rfc3339_ns)

CHANNELS = (
    "heartbeats",
    "subscriptions",
    "ticker",
    "ticker_batch",
    "l2_data",
    "market_trades",
    "candles",
    "status",
)
# Labels `classify` uses for frames that have no channel to count under.
ERROR_CHANNEL = "error"  # {"type":"error",...}
MALFORMED = "_malformed"  # not JSON, or not a JSON object
NO_CHANNEL = "_no_channel"  # a JSON object without a channel (e.g. a legacy Exchange message)

EVENT_TYPES = ("snapshot", "update")
_DECIMAL = re.compile(r"^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_DIGITS = re.compile(r"^\d+$")

TICKER_DECIMALS = (
    "price",
    "volume_24_h",
    "low_24_h",
    "high_24_h",
    "low_52_w",
    "high_52_w",
    "price_percent_chg_24_h",
    "best_bid",
    "best_bid_quantity",
    "best_ask",
    "best_ask_quantity",
)
CANDLE_DECIMALS = ("high", "low", "open", "close", "volume")
STATUS_STRINGS = (
    "product_type",
    "id",
    "base_currency",
    "quote_currency",
    "base_increment",
    "quote_increment",
    "display_name",
    "status",
    "status_message",
    "min_market_funds",
)


class _Problems(list):
    """A list of problems that stops growing at MAX_PROBLEMS (with a final '...' note)."""

    def add(self, text: str) -> None:
        if len(self) < MAX_PROBLEMS:
            self.append(text)
        elif len(self) == MAX_PROBLEMS:
            self.append("... more problems not shown")

    @property
    def full(self) -> bool:
        return len(self) > MAX_PROBLEMS


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _present(p: _Problems, obj: dict, key: str, where: str, required: bool) -> bool:
    """Whether `key` is there to check; a missing required key is a problem, a missing optional one is not."""
    if key in obj:
        return True
    if required:
        p.add(f"{where}.{key}: missing")
    return False


def _decimal(p: _Problems, obj: dict, key: str, where: str, required: bool) -> None:
    if not _present(p, obj, key, where, required):
        return
    value = obj[key]
    if not isinstance(value, str):
        p.add(f"{where}.{key}: must be a decimal string, got {type(value).__name__} {_short(value)}")
    elif not _DECIMAL.match(value):
        p.add(f"{where}.{key}: not a decimal string {_short(value)}")


def _string(p: _Problems, obj: dict, key: str, where: str, required: bool = True) -> None:
    if _present(p, obj, key, where, required) and not isinstance(obj[key], str):
        p.add(f"{where}.{key}: must be a string, got {type(obj[key]).__name__} {_short(obj[key])}")


def _time(p: _Problems, obj: dict, key: str, where: str, required: bool = True) -> None:
    if not _present(p, obj, key, where, required):
        return
    value = obj[key]
    if not isinstance(value, str):
        p.add(f"{where}.{key}: must be an RFC 3339 string, got {type(value).__name__}")
        return
    try:
        _parse_time(value)
    except ValueError:
        p.add(f"{where}.{key}: not an RFC 3339 timestamp {_short(value)}")


def _items(p: _Problems, event: dict, key: str, where: str) -> list[tuple[str, dict]]:
    items = event.get(key)
    if not isinstance(items, list):
        p.add(f"{where}.{key}: missing or not a list")
        return []
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            out.append((f"{where}.{key}[{i}]", item))
        else:
            p.add(f"{where}.{key}[{i}]: not an object")
    return out


def _event_type(p: _Problems, event: dict, where: str) -> None:
    if event.get("type") not in EVENT_TYPES:
        p.add(f"{where}.type: must be 'snapshot' or 'update', got {_short(event.get('type'))}")


# --- per channel -------------------------------------------------------------------------------


def _heartbeats(p: _Problems, event: dict, where: str) -> None:
    _string(p, event, "current_time", where)  # Go's time.String() form, not RFC 3339
    counter = event.get("heartbeat_counter")
    if "heartbeat_counter" not in event:
        p.add(f"{where}.heartbeat_counter: missing")
    elif not (_is_int(counter) or (isinstance(counter, str) and _DIGITS.match(counter))):
        p.add(f"{where}.heartbeat_counter: must be an integer or a string of digits, got {_short(counter)}")


def _subscriptions(p: _Problems, event: dict, where: str) -> None:
    subs = event.get("subscriptions")
    if not isinstance(subs, dict):
        p.add(f"{where}.subscriptions: missing or not an object")
        return
    for channel, products in subs.items():
        if not isinstance(products, list) or not all(isinstance(x, str) for x in products):
            p.add(f"{where}.subscriptions.{channel}: must be a list of strings")


def _ticker(p: _Problems, event: dict, where: str) -> None:
    _event_type(p, event, where)
    for item_where, ticker in _items(p, event, "tickers", where):
        _string(p, ticker, "product_id", item_where)
        _string(p, ticker, "type", item_where, required=False)
        for key in TICKER_DECIMALS:
            # price is always there; the 24 h / 52 w and best bid/ask fields are optional
            # (ticker_batch omits best bid/ask), but when present they are decimal strings.
            _decimal(p, ticker, key, item_where, required=key == "price")
        if p.full:
            return


def _l2_data(p: _Problems, event: dict, where: str) -> None:
    _event_type(p, event, where)
    _string(p, event, "product_id", where)
    for item_where, update in _items(p, event, "updates", where):
        if update.get("side") not in ("bid", "offer"):
            p.add(f"{item_where}.side: must be 'bid' or 'offer', got {_short(update.get('side'))}")
        _time(p, update, "event_time", item_where)
        _decimal(p, update, "price_level", item_where, required=True)
        _decimal(p, update, "new_quantity", item_where, required=True)
        if p.full:
            return


def _market_trades(p: _Problems, event: dict, where: str) -> None:
    _event_type(p, event, where)
    for item_where, trade in _items(p, event, "trades", where):
        _string(p, trade, "trade_id", item_where)
        _string(p, trade, "product_id", item_where)
        _decimal(p, trade, "price", item_where, required=True)
        _decimal(p, trade, "size", item_where, required=True)
        if trade.get("side") not in ("BUY", "SELL"):
            p.add(f"{item_where}.side: must be 'BUY' or 'SELL', got {_short(trade.get('side'))}")
        _time(p, trade, "time", item_where)
        if p.full:
            return


def _candles(p: _Problems, event: dict, where: str) -> None:
    _event_type(p, event, where)
    for item_where, candle in _items(p, event, "candles", where):
        start = candle.get("start")
        if not (isinstance(start, str) and _DIGITS.match(start)):
            p.add(f"{item_where}.start: must be UNIX seconds as a string, got {_short(start)}")
        _string(p, candle, "product_id", item_where)
        for key in CANDLE_DECIMALS:
            _decimal(p, candle, key, item_where, required=True)


def _status(p: _Problems, event: dict, where: str) -> None:
    _event_type(p, event, where)
    for item_where, product in _items(p, event, "products", where):
        _string(p, product, "id", item_where)
        for key in STATUS_STRINGS:
            _string(p, product, key, item_where, required=False)


_EVENT_CHECKS = {
    "heartbeats": _heartbeats,
    "subscriptions": _subscriptions,
    "ticker": _ticker,
    "ticker_batch": _ticker,
    "l2_data": _l2_data,
    "market_trades": _market_trades,
    "candles": _candles,
    "status": _status,
}


# --- public ------------------------------------------------------------------------------------


def is_error_frame(obj: Any) -> bool:
    """`{"type":"error","message":...}`: the one message shape without channel or sequence."""
    return isinstance(obj, dict) and obj.get("type") == "error" and "channel" not in obj


def validate_message(obj: Any) -> list[str]:
    """Problems with one parsed Advanced Trade market-data message; `[]` means valid."""
    p = _Problems()
    if not isinstance(obj, dict):
        p.add(f"not a JSON object (got {type(obj).__name__})")
        return list(p)
    if is_error_frame(obj):
        _string(p, obj, "message", "error")
        _string(p, obj, "reason", "error", required=False)
        return list(p)
    channel = obj.get("channel")
    if "channel" not in obj:
        hint = f" (type={_short(obj['type'])}: a legacy Exchange message?)" if "type" in obj else ""
        p.add(f"channel: missing{hint}")
        return list(p)
    if not isinstance(channel, str):
        p.add(f"channel: must be a string, got {_short(channel)}")
        return list(p)
    if channel not in _EVENT_CHECKS:
        p.add(f"unknown channel {channel!r}")
        return list(p)
    _time(p, obj, "timestamp", "envelope")
    seq = obj.get("sequence_num")
    if "sequence_num" not in obj:
        p.add("envelope.sequence_num: missing")
    elif not _is_int(seq) or seq < 0:
        p.add(f"envelope.sequence_num: must be a non-negative integer, got {_short(seq)}")
    _string(p, obj, "client_id", "envelope", required=False)
    events = obj.get("events")
    if not isinstance(events, list):
        p.add("envelope.events: missing or not a list")
        return list(p)
    check = _EVENT_CHECKS[channel]
    for i, event in enumerate(events):
        where = f"events[{i}]"
        if not isinstance(event, dict):
            p.add(f"{where}: not an object")
            continue
        check(p, event, where)
        if p.full:
            break
    return list(p)


class Inspection(NamedTuple):
    """One frame, parsed and validated once: what `glue check` needs to count it."""

    channel: str
    products: list[str]
    sequence_num: int | None
    problems: list[str]
    event_ns: int | None  # envelope timestamp as epoch ns, when present and valid


def validate_frame(text: str | bytes) -> Inspection:
    """Parse and validate one raw frame (see `classify`), also returning its event time."""
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return Inspection(MALFORMED, [], None, [f"malformed JSON: {exc}"], None)
    if not isinstance(obj, dict):
        return Inspection(MALFORMED, [], None, [f"not a JSON object (got {type(obj).__name__})"], None)
    problems = validate_message(obj)
    if is_error_frame(obj):
        channel = ERROR_CHANNEL
    elif isinstance(obj.get("channel"), str):
        channel = obj["channel"]
    else:
        channel = NO_CHANNEL
    seq = obj.get("sequence_num")
    event_ns = None
    if isinstance(obj.get("timestamp"), str):
        with contextlib.suppress(ValueError):  # already reported by validate_message
            event_ns = _parse_time(obj["timestamp"])
    return Inspection(channel, frame_products(obj), seq if _is_int(seq) else None, problems, event_ns)


def classify(text: str | bytes) -> tuple[str, list[str], int | None, list[str]]:
    """Parse and validate one raw frame: `(channel, products, sequence_num or None, problems)`.

    `channel` is the envelope's channel (also when unknown), `"error"` for error frames,
    `"_malformed"` for text that is not a JSON object, `"_no_channel"` for objects without one.
    """
    found = validate_frame(text)
    return found.channel, found.products, found.sequence_num, found.problems


# === inspect (the ingest hot path) =============================================================

# Channels ingest accepts as the exchange's own (market data plus the user/futures channels it may carry).
KNOWN_CHANNELS = frozenset({*CHANNELS, "user", "futures_balance_summary"})

# Frame classes of `inspect_frame`
DATA = "data"
HEARTBEAT = "heartbeat"
CONTROL = "control"  # subscriptions acks
ERROR = "error"
UNKNOWN_CHANNEL = "unknown_channel"
BAD = "bad"


@dataclass(slots=True)
class FrameInfo:
    """What one received frame is, parsed once."""

    cls: str
    keys: list[str]  # Kafka keys, identical to glue.records.fanout_keys for this frame
    seq: int | None = None
    channel: str | None = None
    timestamp: str | None = None  # envelope timestamp text (exchange time)
    heartbeat_counter: int | None = None
    reason: str | None = None  # why it is bad / the error message
    l2_snapshots: tuple[str, ...] = ()  # products of the l2_data snapshot events in this frame


def inspect_frame(text: str) -> FrameInfo:
    """Classify one frame without ever raising; keys follow `fanout_keys` exactly."""
    try:
        obj: Any = parse_json(text)
    except (ValueError, TypeError, RecursionError):
        return FrameInfo(BAD, [CONTROL_KEY], reason="malformed_json")
    if not isinstance(obj, dict):
        return FrameInfo(BAD, [CONTROL_KEY], reason="not_a_json_object")
    keys = frame_products(obj) or [CONTROL_KEY]
    seq = obj.get("sequence_num")
    if isinstance(seq, bool) or not isinstance(seq, int):
        seq = None
    ts = obj.get("timestamp")
    ts = ts if isinstance(ts, str) else None
    if obj.get("type") == "error":
        message = obj.get("message")
        return FrameInfo(ERROR, keys, seq, None, ts, reason=str(message) if message is not None else "")
    channel = obj.get("channel")
    if not isinstance(channel, str):
        return FrameInfo(BAD, keys, seq, None, ts, reason="no_channel")
    if channel not in KNOWN_CHANNELS:
        return FrameInfo(UNKNOWN_CHANNEL, keys, seq, channel, ts, reason=f"unknown channel {channel!r}")
    if seq is None:
        return FrameInfo(BAD, keys, None, channel, ts, reason="no_sequence_num")
    if channel == "heartbeats":
        return FrameInfo(HEARTBEAT, keys, seq, channel, ts, heartbeat_counter=_heartbeat_counter(obj))
    if channel == "subscriptions":
        return FrameInfo(CONTROL, keys, seq, channel, ts)
    if channel == "l2_data":
        return FrameInfo(DATA, keys, seq, channel, ts, l2_snapshots=_l2_snapshot_products(obj))
    return FrameInfo(DATA, keys, seq, channel, ts)


def _l2_snapshot_products(obj: dict[str, Any]) -> tuple[str, ...]:
    """Products whose level2 book this frame restates in full (a resnapshot waits for these)."""
    events = obj.get("events")
    out: tuple[str, ...] = ()
    if not isinstance(events, list):  # a broken frame restates nothing (and must not raise)
        return out
    for event in events:
        if isinstance(event, dict) and event.get("type") == "snapshot":
            product = event.get("product_id")
            if isinstance(product, str):
                out += (product,)
    return out


def _heartbeat_counter(obj: dict[str, Any]) -> int | None:
    # The docs show a string, production sends an integer: accept both.
    events = obj.get("events")
    if not isinstance(events, list):  # e.g. "events": 5 must not raise (the frame is still archived)
        return None
    for event in events:
        if isinstance(event, dict) and "heartbeat_counter" in event:
            value = event["heartbeat_counter"]
            if isinstance(value, bool):
                return None
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


# Fact sheet 1.5 "Product aliasing": X-USDC subscriptions are served as X-USD, except these two.
_NO_ALIAS = frozenset({"USDT-USDC", "EURC-USDC"})


def canonical_product(product_id: str, alias: bool = True) -> str:
    """The product id the exchange puts on the wire for a subscription to `product_id`."""
    if alias and product_id.endswith("-USDC") and product_id not in _NO_ALIAS:
        return product_id[: -len("-USDC")] + "-USD"
    return product_id
