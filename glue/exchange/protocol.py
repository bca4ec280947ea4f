"""Wire formats of the Advanced Trade market-data protocol, as the fake exchange writes them.

Owns: decimal strings (not zero-padded), the timestamp forms (envelope RFC 3339 ns, event/trade
times with microseconds, Go's `time.Time.String()` for heartbeats), the envelope layout and the
channel-name rules (subscribe `level2`, receive `l2_data`).

An outgoing message is an `Out`: the envelope text split around the `sequence_num` value, so the
server assigns the number at the moment it writes the frame (faults can skip or reorder numbers)
without serialising the message twice.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from glue.records import format_rfc3339_ns

# Channels a client may subscribe to on the market-data endpoint, and what the data comes back as.
DATA_CHANNEL = {
    "heartbeats": "heartbeats",
    "ticker": "ticker",
    "ticker_batch": "ticker_batch",
    "level2": "l2_data",
    "market_trades": "market_trades",
    "candles": "candles",
    "status": "status",
}
SUBSCRIBE_CHANNEL = {v: k for k, v in DATA_CHANNEL.items()}
# Valid Advanced Trade channels that need a JWT (answered with an auth error here).
AUTH_CHANNELS = ("user", "futures_balance_summary")
# Channels whose messages count as "data messages" for the fault grammar's N.
COUNTED_CHANNELS = frozenset({"l2_data", "ticker", "ticker_batch", "market_trades", "candles", "status"})

AUTH_FAILURE = "authentication failure"

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(obj: object) -> str:
    """Compact JSON, as Coinbase writes it."""
    return _JSON(obj)


@functools.lru_cache(maxsize=1 << 16)  # prices repeat a lot; the cache makes rendering cheaper
def fmt_units(value: int, decimals: int) -> str:
    """An integer amount of 10**-decimals units as a decimal string without padding ("0", "0.024")."""
    if decimals == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{decimals}d}".rstrip("0")


def fmt_float(value: float, digits: int = 14) -> str:
    """A float as a short decimal string (for percentages), no exponent, no padding."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def format_us(ns: int) -> str:
    """RFC 3339 with microseconds, as in l2 `event_time` and trade `time`."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos // 1000:06d}Z"


def format_go_time(ns: int, uptime_ns: int) -> str:
    """Go's `time.Time.String()` with the monotonic suffix, as in heartbeats' `current_time`."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    up_s, up_ns = divmod(uptime_ns, 1_000_000_000)
    return f"{base}.{nanos:09d} +0000 UTC m=+{up_s}.{up_ns:09d}"


@dataclass(frozen=True, slots=True)
class Out:
    """One outgoing frame. `head + str(seq) + tail` for sequenced messages; `head` alone otherwise."""

    head: str
    tail: str | None  # None: not sequenced (errors, malformed injections): the text is `head`
    channel: str  # data-side channel name ("error" for errors, "" for garbage)

    @property
    def sequenced(self) -> bool:
        return self.tail is not None

    @property
    def counted(self) -> bool:
        return self.channel in COUNTED_CHANNELS

    def text(self, seq: int | None) -> str:
        if self.tail is None:
            return self.head
        return f"{self.head}{seq}{self.tail}"


def envelope(channel: str, ns: int, events: list, client_id: bool) -> Out:
    """The standard envelope {channel, [client_id], timestamp, sequence_num, events}."""
    return envelope_raw(channel, format_rfc3339_ns(ns), dumps(events), client_id)


def envelope_raw(channel: str, timestamp: str, events_json: str, client_id: bool) -> Out:
    """The envelope around already-serialised events (the hot path renders them by hand)."""
    cid = '"client_id":"",' if client_id else ""
    head = f'{{"channel":"{channel}",{cid}"timestamp":"{timestamp}","sequence_num":'
    return Out(head, f',"events":{events_json}}}', channel)


def error_out(message: str) -> Out:
    return Out(dumps({"type": "error", "message": message}), None, "error")


def heartbeat_out(ns: int, counter: int, uptime_ns: int, client_id: bool) -> Out:
    # current_time is read a moment before the envelope is stamped, as in production captures.
    events = [{"current_time": format_go_time(ns - 1_000_000, max(0, uptime_ns - 1_000_000)),
               "heartbeat_counter": counter}]
    return envelope("heartbeats", ns, events, client_id)


def subscriptions_out(ns: int, subs: dict[str, set[str]], client_id: bool) -> Out:
    """The cumulative acknowledgement: subscription-side names, heartbeats as ["heartbeats"]."""
    payload = {
        ch: (["heartbeats"] if ch == "heartbeats" else sorted(products)) for ch, products in sorted(subs.items())
    }
    return envelope("subscriptions", ns, [{"subscriptions": payload}], client_id)
