"""One client's protocol state: subscriptions, snapshots, acks, and rendering events to frames.

Owns the rules of 1.2-1.5 of the fact sheet: one channel per subscribe, unknown channels and bad
messages answered with `{"type":"error","message":"authentication failure"}` (connection stays open),
one snapshot message per product then the cumulative `subscriptions` ack (or the ack first), product
aliasing `X-USDC` -> `X-USD`. No I/O and no clock: the caller passes the time, and the server (or
`simulate`) assigns sequence numbers when it writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from glue.exchange.market import SIZE_DECIMALS, MarketEvent, MarketState, Ticker, Trade
from glue.exchange.protocol import (
    AUTH_CHANNELS,
    AUTH_FAILURE,
    DATA_CHANNEL,
    Out,
    dumps,
    envelope,
    envelope_raw,
    error_out,
    fmt_float,
    fmt_units,
    format_us,
    heartbeat_out,
    subscriptions_out,
)
from glue.exchange.sources import EventLog, RecordedFrame, SimSource
from glue.protocol import canonical_product
from glue.records import format_rfc3339_ns

_PRODUCT = re.compile(r"^[A-Za-z0-9]{1,16}-[A-Za-z0-9]{1,16}$")


@dataclass(frozen=True)
class ProtocolOptions:
    """Protocol choices where the sources disagree (fact sheet 1.13)."""

    emit_client_id: bool = True  # the real feed sends client_id:"" (the official SDK requires it)
    ack_after_snapshots: bool = True
    alias_usdc: bool = True
    snapshot_epoch_time: bool = False  # l2 snapshot event_time 1970-01-01T00:00:00Z instead of now
    error_message: str = AUTH_FAILURE
    oversize_snapshot_bytes: int = 0  # fault: pad level2 snapshots to this many bytes
    ticker_batch_bbo: bool = False  # ticker_batch with best bid/ask (the docs say it omits them)
    # A product subscribed again on the same connection (after an unsubscribe) gets a new snapshot; whether
    # the real exchange does so is undocumented (fact sheet 1.6), so clients must cope with False too.
    resubscribe_snapshot: bool = True


class Session:
    """The protocol state of one connection over a source."""

    def __init__(self, source: EventLog, options: ProtocolOptions) -> None:
        self.source = source
        self.opts = options
        self.subs: dict[str, set[str]] = {}
        self.ever: dict[str, set[str]] = {}  # every product subscribed on this connection, per channel
        self.joined = False
        self.cursor = 0
        self.views: dict[str, MarketState] = {}
        self.bad_messages = 0

    # ---- client messages ------------------------------------------------------------------------
    @property
    def heartbeats(self) -> bool:
        return "heartbeats" in self.subs

    @property
    def subscribed_any(self) -> bool:
        return bool(self.subs)

    def join(self, now_ns: int) -> None:
        """Start following the market at its current end (the first subscribe does this)."""
        self.cursor = self.source.join_at(now_ns)
        self.source.note_cursor(id(self), self.cursor)  # the shared log keeps what this client still needs
        if isinstance(self.source, SimSource):
            self.views = self.source.views()
        self.joined = True

    def on_client_text(self, text: str | bytes, now_ns: int) -> tuple[list[Out], bool]:
        """Answer one client message: (frames to send, whether it was a valid subscribe)."""
        try:
            obj = json.loads(text)
        except (ValueError, TypeError):
            return self._bad()
        if not isinstance(obj, dict):
            return self._bad()
        kind, channel = obj.get("type"), obj.get("channel")
        if kind not in ("subscribe", "unsubscribe") or not isinstance(channel, str):
            return self._bad()
        if channel in AUTH_CHANNELS or channel not in DATA_CHANNEL:
            return self._bad()
        products: list[str] = []
        if channel != "heartbeats":
            ids = obj.get("product_ids")
            if not isinstance(ids, list) or not ids or not all(isinstance(p, str) and _PRODUCT.match(p) for p in ids):
                return self._bad()
            for p in ids:
                c = canonical_product(p, self.opts.alias_usdc)
                if c not in products:
                    products.append(c)
        if kind == "unsubscribe":
            return [self._unsubscribe(channel, products, now_ns)], False
        return self._subscribe(channel, products, now_ns), True

    def _bad(self) -> tuple[list[Out], bool]:
        self.bad_messages += 1
        return [error_out(self.opts.error_message)], False

    def _subscribe(self, channel: str, products: list[str], now_ns: int) -> list[Out]:
        if not self.joined:
            self.join(now_ns)
        have = self.subs.setdefault(channel, set())
        added = [p for p in products if p not in have]
        have.update(added)
        ever = self.ever.setdefault(channel, set())
        snaps: list[Out] = []
        for p in added:
            again = p in ever
            ever.add(p)
            if again and not self.opts.resubscribe_snapshot:
                continue
            if isinstance(self.source, SimSource) and self.source.ensure_product(p):
                self.views[p] = self.source.truth[p].copy()
            snap = self._snapshot(channel, p, now_ns)
            if snap is not None:
                snaps.append(snap)
        ack = subscriptions_out(now_ns, self.subs, self.opts.emit_client_id)
        return [*snaps, ack] if self.opts.ack_after_snapshots else [ack, *snaps]

    def _unsubscribe(self, channel: str, products: list[str], now_ns: int) -> Out:
        if channel in self.subs:
            if channel == "heartbeats":
                del self.subs[channel]
            else:
                self.subs[channel].difference_update(products)
                if not self.subs[channel]:
                    del self.subs[channel]
        return subscriptions_out(now_ns, self.subs, self.opts.emit_client_id)

    # ---- snapshots ------------------------------------------------------------------------------
    def _snapshot(self, channel: str, product_id: str, now_ns: int) -> Out | None:
        view = self.views.get(product_id)
        if view is None:  # recordings carry their own snapshots
            return None
        cid = self.opts.emit_client_id
        if channel == "level2":
            return self._l2_snapshot(view, now_ns)
        if channel == "ticker" and view.ticker is not None:
            tick = _ticker_dict(product_id, view.ticker, view.spec.price_decimals)
            return envelope("ticker", now_ns, [{"type": "snapshot", "tickers": [tick]}], cid)
        if channel == "ticker_batch" and view.ticker is not None:
            tick = _ticker_dict(product_id, view.ticker, view.spec.price_decimals, self.opts.ticker_batch_bbo)
            return envelope("ticker_batch", now_ns, [{"type": "snapshot", "tickers": [tick]}], cid)
        if channel == "market_trades":
            trades = [_trade_dict(product_id, t, view.spec.price_decimals) for t in reversed(view.recent)]
            return envelope("market_trades", now_ns, [{"type": "snapshot", "trades": trades}], cid)
        return None

    def _l2_snapshot(self, view: MarketState, now_ns: int) -> Out:
        dec = view.spec.price_decimals
        at = "1970-01-01T00:00:00Z" if self.opts.snapshot_epoch_time else format_us(now_ns)
        updates = [_level("bid", at, p, view.bids[p], dec) for p in sorted(view.bids, reverse=True)]
        updates += [_level("offer", at, p, view.asks[p], dec) for p in sorted(view.asks)]
        event = {"type": "snapshot", "product_id": view.spec.product_id, "updates": updates}
        out = envelope("l2_data", now_ns, [event], self.opts.emit_client_id)
        target = self.opts.oversize_snapshot_bytes
        if target:
            # Fault: pad with far-away levels until the message reaches the requested size.
            low = min(view.bids, default=view.spec.start_price_units) - 1
            high = max(view.asks, default=view.spec.start_price_units) + 1
            per_level = len(dumps(_level("offer", at, high, 100_000, dec))) + 1
            i = 0
            while (size := len(out.head) + len(out.tail)) < target:
                for _ in range((target - size) // (2 * per_level) + 1):
                    updates.append(_level("bid", at, max(1, low - i), 100_000, dec))
                    updates.append(_level("offer", at, high + i, 100_000, dec))
                    i += 1
                out = envelope("l2_data", now_ns, [event], self.opts.emit_client_id)
        return out

    # ---- events -----------------------------------------------------------------------------------
    def heartbeat(self, ns: int) -> Out:
        up_ns = ns - self.source.start_ns
        return heartbeat_out(ns, up_ns // 1_000_000_000, up_ns, self.opts.emit_client_id)

    def render(self, ev: MarketEvent | RecordedFrame) -> list[Out]:
        """Frames this connection gets for one market event (its views are advanced too)."""
        if isinstance(ev, RecordedFrame):
            sub = self.subs.get(_SUBSCRIBE_SIDE.get(ev.channel, ev.channel))
            if sub is None or (ev.products and not (ev.products & sub)):
                return []
            return [Out(ev.head, ev.tail, ev.channel)]
        pid = ev.product_id
        view = self.views.get(pid)
        if view is not None:
            view.apply(ev)
        subs = self.subs
        want_l2 = bool(ev.l2) and pid in subs.get("level2", ())
        want_ticker = ev.ticker is not None and pid in subs.get("ticker", ())
        want_trades = bool(ev.trades) and pid in subs.get("market_trades", ())
        want_batch = ev.ticker_batch is not None and pid in subs.get("ticker_batch", ())
        if not (want_l2 or want_ticker or want_trades or want_batch):
            return []
        dec = view.spec.price_decimals if view is not None else 2
        cid = self.opts.emit_client_id
        ts = format_rfc3339_ns(ev.ns)
        outs: list[Out] = []
        # Hand-rendered JSON (same bytes as json.dumps with compact separators): the hot path.
        if want_l2:
            at = format_us(ev.ns)
            items = ",".join(
                f'{{"side":"{side}","event_time":"{at}","price_level":"{fmt_units(p, dec)}",'
                f'"new_quantity":"{fmt_units(q, SIZE_DECIMALS)}"}}'
                for side, p, q in ev.l2
            )
            body = f'[{{"type":"update","product_id":"{pid}","updates":[{items}]}}]'
            outs.append(envelope_raw("l2_data", ts, body, cid))
        if want_ticker:
            assert ev.ticker is not None
            tick = dumps(_ticker_dict(pid, ev.ticker, dec))
            outs.append(envelope_raw("ticker", ts, f'[{{"type":"update","tickers":[{tick}]}}]', cid))
        if want_trades:
            assert ev.trades is not None
            trades = dumps([_trade_dict(pid, t, dec) for t in reversed(ev.trades)])
            outs.append(envelope_raw("market_trades", ts, f'[{{"type":"update","trades":{trades}}}]', cid))
        if want_batch:
            assert ev.ticker_batch is not None
            tick = dumps(_ticker_dict(pid, ev.ticker_batch, dec, self.opts.ticker_batch_bbo))
            outs.append(envelope_raw("ticker_batch", ts, f'[{{"type":"update","tickers":[{tick}]}}]', cid))
        return outs


_SUBSCRIBE_SIDE = {"l2_data": "level2"}


def _level(side: str, at: str, price: int, size: int, dec: int) -> dict:
    return {
        "side": side,
        "event_time": at,
        "price_level": fmt_units(price, dec),
        "new_quantity": fmt_units(size, SIZE_DECIMALS),
    }


def _ticker_dict(pid: str, t: Ticker, dec: int, bbo: bool = True) -> dict:
    pct = (t.price - t.open_24h) / t.open_24h * 100 if t.open_24h else 0.0
    out = {
        "type": "ticker",
        "product_id": pid,
        "price": fmt_units(t.price, dec),
        "volume_24_h": fmt_units(t.volume_24h, SIZE_DECIMALS),
        "low_24_h": fmt_units(t.low_24h, dec),
        "high_24_h": fmt_units(t.high_24h, dec),
        "low_52_w": fmt_units(t.low_52w, dec),
        "high_52_w": fmt_units(t.high_52w, dec),
        "price_percent_chg_24_h": fmt_float(pct),
        "best_bid": fmt_units(t.best_bid, dec),
        "best_ask": fmt_units(t.best_ask, dec),
        "best_bid_quantity": fmt_units(t.best_bid_qty, SIZE_DECIMALS),
        "best_ask_quantity": fmt_units(t.best_ask_qty, SIZE_DECIMALS),
    }
    if not bbo:
        for key in ("best_bid", "best_ask", "best_bid_quantity", "best_ask_quantity"):
            del out[key]
    return out


def _trade_dict(pid: str, t: Trade, dec: int) -> dict:
    return {
        "trade_id": str(t.trade_id),
        "product_id": pid,
        "price": fmt_units(t.price, dec),
        "size": fmt_units(t.size, SIZE_DECIMALS),
        "side": t.side,
        "time": format_us(t.ns),
    }
