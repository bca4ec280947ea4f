"""The simulated market: a seeded, event-driven order-book model per product.

Owns the market model and the market state that snapshots are built from. No I/O, no clock:
time is simulated nanoseconds, so the same seed gives the same event sequence byte for byte.

Model, per product (its own `random.Random`, seeded from the seed and the product id, so adding a
product never changes another's path):
* two regimes, quiet and active (Markov switching in simulated time, mean 30 and 15 minutes);
* a slow volatility level `v` (log-Ornstein-Uhlenbeck, 30 min time constant, followed over ~3 min) that
  scales the mid's move rate, partly through the arrival rates; an activity factor `u` (10 min) that
  moves arrival rates only; a product's activity scales its trades, not its mid's move rate;
* a burst intensity `h` (self-exciting, decays with a 3 s time constant, capped) raised by every mid jump;
* Poisson-like arrivals of trades and book changes whose rates rise with regime, `v`, `u` and `h`;
* most trades leave the mid unchanged (they eat part of the best level); a few sweep the book and
  move it by a heavy-tailed (Student-t, 3 d.o.f.) jump, with probability and size rising with `h`;
* the spread is one tick except brief widenings after jumps;
* trades are published in 250 ms batches (`market_trades`), one ticker per trade event, one
  `l2_data` update per book change (new totals; 0 deletes).

Calibration targets: `../shared/docs/market-calibration.md` (`bench/exchange.py` measures them) and the
volatility dynamics of the real captures (`bench/calibration.py`; definitions in calibration.py).
"""

from __future__ import annotations

import bisect
import math
import random
import zlib
from collections import deque
from dataclasses import dataclass, field

NS = 1_000_000_000
TRADE_BATCH_NS = 250_000_000  # market_trades are collected over 250 ms
TICKER_BATCH_NS = 5 * NS  # ticker_batch: every 5 s, only if the price changed
SIZE_DECIMALS = 8
SIZE_UNIT = 10**SIZE_DECIMALS
RECENT_TRADES = 100  # the market_trades snapshot holds the last 100 trades

# Known products: start price (quote) and median top-of-book size (base), from the calibration captures.
# Known products: start price (quote), median top-of-book size (base), activity (trade-rate factor).
_KNOWN = {
    "BTC": (67000.0, 0.25, 1.0),
    "ETH": (2050.0, 2.0, 0.6),
    "SOL": (150.0, 40.0, 0.5),
    "XRP": (2.1, 2500.0, 0.4),
    "DOGE": (0.17, 30000.0, 0.3),
    "LTC": (85.0, 60.0, 0.3),
}

# Regime parameters: (trade rate /s, book-change rate /s, P(move) per trade, jump scale bps,
# P(spread widening) per jump, widening median bps, mean regime duration s)
# More, smaller moves than a first calibration had (0.025 / 0.5 bps quiet, 0.08 / 0.7 bps active, active
# for 8 minutes): the real 60 s realised volatility is a far less noisy gauge of the volatility level than
# a few large jumps a minute give (bench/calibration.py: sigma_future60 / RV_300 p90 1.47 real, 2.2-2.5
# before), and the active regime now looks like the active mel-hsw sessions (about half the seconds move).
QUIET = (2.6, 3.0, 0.05, 0.4, 0.08, 0.03, 1800.0)
ACTIVE = (3.6, 6.0, 0.16, 0.5, 0.3, 0.15, 900.0)
BURST_TAU_S = 3.0
BURST_KICK = 0.4
JUMP_CLIP = 4.0
BURST_MAX = 3.0  # caps the self-excitation so bursts stay bursts
# P(move) per trade rises by this factor per unit of h. It was 0.5: bursts then carried one minute's
# volatility into the next far more than the real captures show (reversion slope, bench/calibration.py).
BURST_MOVE = 0.1
# The slow volatility level (real 60 s realised volatility keeps its level for many minutes: log RV_60
# autocorrelation 0.52 at 300 s, 0.27 at 900 s on mel-hsw; the regimes alone gave about 0): a
# log-Ornstein-Uhlenbeck factor v. The mid's move rate scales with exp(v), the arrival rates with
# exp(VOL_RATE_EXP * v) (intensity follows volatility, not one for one), and an independent activity
# factor u moves the arrival rates without moving the volatility (trades that do not move the mid), so
# intensity adds little to trailing volatility, as in the captures. Both are stepped once per simulated
# second from their own random stream: their paths depend only on seed, product and time.
VOL_TAU_S = 1800.0
VOL_SD = 0.6
VOL_RATE_EXP = 0.4
ACT_TAU_S = 600.0
ACT_SD = 0.3
VOL_SMOOTH_S = 180.0  # v follows the OU over ~3 minutes: the level changes gradually, not minute to minute


@dataclass(frozen=True)
class ProductSpec:
    product_id: str
    price_decimals: int  # tick = 10**-price_decimals
    start_price_units: int
    top_size_median_units: int
    book_levels: int  # levels per side
    activity: float = 1.0  # trade and book-change rates are scaled by this

    @property
    def tick_bps(self) -> float:
        return 1e4 / self.start_price_units


def product_spec(product_id: str, book_levels: int = 500) -> ProductSpec:
    """A product's static parameters: known majors from the captures, others derived from the id."""
    base = product_id.split("-")[0].upper()
    if base in _KNOWN:
        price, top_size, activity = _KNOWN[base]
    else:
        crc = zlib.crc32(product_id.encode())
        price = (0.5, 5.0, 50.0, 500.0)[crc % 4] * (1 + (crc >> 8) % 100 / 100)
        top_size = 5000.0 / price
        activity = 0.5
    decimals = 2 if price >= 1 else 5
    return ProductSpec(
        product_id=product_id,
        price_decimals=decimals,
        start_price_units=round(price * 10**decimals),
        top_size_median_units=max(1, round(top_size * SIZE_UNIT)),
        book_levels=max(2, book_levels),
        activity=activity,
    )


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: int
    price: int  # price units
    size: int  # size units
    side: str  # maker side: BUY or SELL
    ns: int


@dataclass(frozen=True, slots=True)
class Ticker:
    price: int
    volume_24h: int
    low_24h: int
    high_24h: int
    low_52w: int
    high_52w: int
    open_24h: int
    best_bid: int
    best_bid_qty: int
    best_ask: int
    best_ask_qty: int


@dataclass(slots=True)
class MarketEvent:
    """One market event of one product. l2 items are (side, price units, new total size units)."""

    ns: int
    product_id: str
    l2: list[tuple[str, int, int]] = field(default_factory=list)
    ticker: Ticker | None = None
    trades: list[Trade] | None = None  # a published market_trades batch (oldest first)
    ticker_batch: Ticker | None = None  # the 5-second ticker_batch (sent only when the price changed)


class MarketState:
    """What a subscriber can know about one product: the book, the last trades, the ticker."""

    __slots__ = ("asks", "bids", "recent", "spec", "ticker")

    def __init__(self, spec: ProductSpec) -> None:
        self.spec = spec
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.recent: deque[Trade] = deque(maxlen=RECENT_TRADES)
        self.ticker: Ticker | None = None

    def apply(self, ev: MarketEvent) -> None:
        for side, price, size in ev.l2:
            book = self.bids if side == "bid" else self.asks
            if size:
                book[price] = size
            else:
                book.pop(price, None)
        if ev.ticker is not None:
            self.ticker = ev.ticker
        if ev.trades:
            self.recent.extend(ev.trades)

    def copy(self) -> MarketState:
        other = MarketState(self.spec)
        other.bids = dict(self.bids)
        other.asks = dict(self.asks)
        other.recent = deque(self.recent, maxlen=RECENT_TRADES)
        other.ticker = self.ticker
        return other


def _t3(rng: random.Random) -> float:
    """A Student-t draw with 3 degrees of freedom, scaled to unit variance, clipped."""
    chi2 = rng.gammavariate(1.5, 2.0)
    draw = rng.gauss(0.0, 1.0) / math.sqrt(chi2 / 3.0) / math.sqrt(3.0)
    return max(-JUMP_CLIP, min(JUMP_CLIP, draw))  # heavy tails, but no 50-sigma freaks


class ProductModel:
    """Generates one product's market events in simulated time; `state` is the truth after them."""

    def __init__(self, spec: ProductSpec, seed: int, start_ns: int, warmup_s: float = 120.0) -> None:
        self.spec = spec
        self.rng = random.Random(f"{seed}:{spec.product_id}")
        self.state = MarketState(spec)
        self.t_ns = start_ns - int(warmup_s * NS)
        self.regime = ACTIVE if self.rng.random() < 0.2 else QUIET
        self.regime_end_ns = self.t_ns + int(self.rng.expovariate(1.0 / self.regime[6]) * NS)
        self.h = 0.0
        self.vol_rng = random.Random(f"{seed}:{spec.product_id}:vol")
        # x: the Ornstein-Uhlenbeck factor, from its stationary distribution; v: x followed over VOL_SMOOTH_S
        self.x = self.vol_rng.gauss(0.0, 1.0) * VOL_SD
        self.v = self.x
        self.v_next_ns = (self.t_ns // NS + 1) * NS
        self._v_decay = math.exp(-1.0 / VOL_TAU_S)
        self._v_shock = VOL_SD * math.sqrt(1.0 - self._v_decay**2)
        self.u = self.vol_rng.gauss(0.0, 1.0) * ACT_SD
        self._u_decay = math.exp(-1.0 / ACT_TAU_S)
        self._u_shock = ACT_SD * math.sqrt(1.0 - self._u_decay**2)
        self.trade_id = 100_000_000 + self.rng.randrange(800_000_000)
        self.pending: list[Trade] = []
        self.flush_ns = 0
        self.widen_until_ns = 0
        self.batch_ns = (self.t_ns // TICKER_BATCH_NS + 1) * TICKER_BATCH_NS
        self.batch_price = 0
        self.last_move_up = True
        self.bids: list[int] = []  # sorted ascending; best bid is last
        self.asks: list[int] = []  # sorted ascending; best ask is first
        self._overlay: dict[tuple[int, int], int] = {}
        # Volatility spikes on demand (`glue exchange --spike`): (from_ns, to_ns, factor) windows in which
        # P(move) and the jump size are multiplied by factor. Set after the warm-up; none = the usual market.
        self.spikes: tuple[tuple[int, int, float], ...] = ()
        self._build_book(start_ns)
        self._init_ticker()
        # Warm up silently so the book, the trade history and the 24 h figures look lived-in;
        # `state` is then exactly the market at start_ns.
        while self.next_event(stop_ns=start_ns) is not None:
            pass

    # ---- sizes and gaps -------------------------------------------------------------------------
    def _top_size(self) -> int:
        return max(1000, int(self.spec.top_size_median_units * math.exp(self.rng.gauss(0.0, 0.9))))

    def _gap_ticks(self) -> int:
        mean = max(1.0, 0.02 / self.spec.tick_bps)  # ~0.02 bps between levels
        return 1 + int(self.rng.expovariate(1.0 / mean))

    def _build_book(self, ns: int) -> None:
        mid = self.spec.start_price_units
        bid, ask = mid - 1, mid
        for _ in range(self.spec.book_levels):
            self.bids.append(bid)
            self.asks.append(ask)
            bid -= self._gap_ticks()
            ask += self._gap_ticks()
        self.bids.sort()
        for p in self.bids:
            self.state.bids[p] = self._top_size()
        for p in self.asks:
            self.state.asks[p] = self._top_size()

    def _init_ticker(self) -> None:
        p = self.spec.start_price_units
        r = self.rng
        self.volume_24h = int(self.spec.top_size_median_units * 10_000 * (0.5 + r.random()))
        self.state.ticker = Ticker(
            price=p,
            volume_24h=self.volume_24h,
            low_24h=int(p * (1 - 0.01 * r.random())),
            high_24h=int(p * (1 + 0.01 * r.random())),
            low_52w=round(p * 0.7 / 10**self.spec.price_decimals) * 10**self.spec.price_decimals,
            high_52w=round(p * 1.8 / 10**self.spec.price_decimals) * 10**self.spec.price_decimals,
            open_24h=int(p * (1 + 0.01 * (r.random() - 0.5))),
            best_bid=self.bids[-1],
            best_bid_qty=self.state.bids[self.bids[-1]],
            best_ask=self.asks[0],
            best_ask_qty=self.state.asks[self.asks[0]],
        )

    # ---- the event loop -------------------------------------------------------------------------
    def next_event(self, stop_ns: int | None = None) -> MarketEvent | None:
        """The product's next event (advances the model, applies it to `state`).

        With `stop_ns`, returns None instead of an event at or after that time (state unchanged).
        """
        while True:
            rate_t, rate_b = self._rates()
            dt_ns = max(1000, int(self.rng.expovariate(rate_t + rate_b) * NS))
            cand = self.t_ns + dt_ns
            if self.batch_ns <= cand and (not self.pending or self.batch_ns < self.flush_ns):
                if stop_ns is not None and self.batch_ns >= stop_ns:
                    self._decay(stop_ns)
                    return None
                ns, self.batch_ns = self.batch_ns, self.batch_ns + TICKER_BATCH_NS
                ticker = self.state.ticker
                if ticker is not None and ticker.price != self.batch_price:
                    self.batch_price = ticker.price
                    self._decay(ns)
                    return self._emit(MarketEvent(ns, self.spec.product_id, ticker_batch=ticker))
                continue
            if self.pending and self.flush_ns <= cand:
                if stop_ns is not None and self.flush_ns >= stop_ns:
                    self._decay(stop_ns)
                    return None
                self._decay(self.flush_ns)
                return self._emit(self._flush())
            if stop_ns is not None and min(cand, self.regime_end_ns) >= stop_ns:
                self._decay(stop_ns)  # the model now stands at stop_ns (arrivals are memoryless)
                return None
            if self.regime_end_ns <= cand:
                self._decay(self.regime_end_ns)
                self.regime = QUIET if self.regime is ACTIVE else ACTIVE
                self.regime_end_ns = self.t_ns + int(self.rng.expovariate(1.0 / self.regime[6]) * NS)
                continue
            self._decay(cand)
            if self.rng.random() * (rate_t + rate_b) < rate_t:
                return self._emit(self._trade())
            return self._emit(self._book_change())

    def _emit(self, ev: MarketEvent) -> MarketEvent:
        self.state.apply(ev)
        return ev

    def _rates(self) -> tuple[float, float]:
        # exp(k v - k^2 sd^2 / 2) has mean 1: the level moves the rates around their regime's values
        level = math.exp(VOL_RATE_EXP * self.v - (VOL_RATE_EXP * VOL_SD) ** 2 / 2 + self.u - ACT_SD**2 / 2)
        boost = (1.0 + 0.2 * self.h) * self.spec.activity * level
        return self.regime[0] * boost, self.regime[1] * boost

    def _move_level(self) -> float:
        """P(move) per trade factor: the move rate (rate x P(move)) scales with exp(v), mean 1, whatever u does."""
        a, sv, su = VOL_RATE_EXP, VOL_SD, ACT_SD
        return math.exp((1 - a) * self.v - self.u + ((a * sv) ** 2 + su**2 - sv**2) / 2)

    def _decay(self, ns: int) -> None:
        dt_s = (ns - self.t_ns) / NS
        if dt_s > 0:
            self.h *= math.exp(-dt_s / BURST_TAU_S)
        while self.v_next_ns <= ns:
            self.x = self.x * self._v_decay + self._v_shock * self.vol_rng.gauss(0.0, 1.0)
            self.v = self.v + (self.x - self.v) / VOL_SMOOTH_S if VOL_SMOOTH_S > 1 else self.x
            self.u = self.u * self._u_decay + self._u_shock * self.vol_rng.gauss(0.0, 1.0)
            self.v_next_ns += NS
        self.t_ns = ns

    def _flush(self) -> MarketEvent:
        trades, self.pending = self.pending, []
        return MarketEvent(self.t_ns, self.spec.product_id, trades=trades)

    def _record_trade(self, price: int, size: int, maker_side: str) -> None:
        self.trade_id += 1
        if not self.pending:
            self.flush_ns = (self.t_ns // TRADE_BATCH_NS + 1) * TRADE_BATCH_NS
        self.pending.append(Trade(self.trade_id, price, size, maker_side, self.t_ns))
        self.volume_24h += size

    def _ticker(self, price: int) -> Ticker:
        old = self.state.ticker
        assert old is not None
        bid, ask = self.bids[-1], self.asks[0]
        return Ticker(
            price=price,
            volume_24h=self.volume_24h,
            low_24h=min(old.low_24h, price),
            high_24h=max(old.high_24h, price),
            low_52w=old.low_52w,
            high_52w=old.high_52w,
            open_24h=old.open_24h,
            best_bid=bid,
            best_bid_qty=self._size(self.state.bids, bid),
            best_ask=ask,
            best_ask_qty=self._size(self.state.asks, ask),
        )

    # The model applies its own l2 changes to `state` only in `_emit`; while building an event it
    # tracks pending sizes in `overlay` so later steps of the same event see them.
    def _size(self, book: dict[int, int], price: int) -> int:
        over = self._overlay.get((id(book), price))
        return over if over is not None else book.get(price, 0)

    def _set(self, l2: list, side: str, price: int, size: int) -> None:
        book = self.state.bids if side == "bid" else self.state.asks
        self._overlay[(id(book), price)] = size
        l2.append((side, price, size))

    def _trade(self) -> MarketEvent:
        self._overlay: dict[tuple[int, int], int] = {}
        l2: list[tuple[str, int, int]] = []
        rng = self.rng
        taker_buy = rng.random() < 0.5
        # P(move) / activity: a less traded product has fewer trades, not a stiller mid (streakh, one
        # connection: ETH-USD 1.61 updates/s and 9.2 % of seconds with a mid change, BTC-USD 2.15 and 6.2 %).
        p_move = min(0.9, self.regime[2] * (1.0 + BURST_MOVE * self.h) * self._move_level() / self.spec.activity
                     * self._spike())
        self._maybe_close_spread(l2)
        price = self._jump(l2, taker_buy) if rng.random() < p_move else self._hit_top(l2, taker_buy)
        ev = MarketEvent(self.t_ns, self.spec.product_id, l2=l2, ticker=self._ticker(price))
        return ev

    def _spike(self) -> float:
        for start, end, factor in self.spikes:
            if start <= self.t_ns < end:
                return factor
        return 1.0

    def _hit_top(self, l2: list, taker_buy: bool) -> int:
        if taker_buy:
            side, price, book = "offer", self.asks[0], self.state.asks
        else:
            side, price, book = "bid", self.bids[-1], self.state.bids
        have = self._size(book, price)
        size = min(int(have * 0.8), max(1000, int(have * 0.08 * math.exp(self.rng.gauss(0.0, 1.0)))))
        size = max(1, size)
        left = have - size
        if left < have * 0.05:
            left = self._top_size()  # new orders join the level instead of letting the mid move
        self._set(l2, side, price, left)
        self._record_trade(price, size, "SELL" if taker_buy else "BUY")
        return price

    def _jump(self, l2: list, up: bool) -> int:
        spec, rng = self.spec, self.rng
        scale_bps = self.regime[3] * (1.0 + 0.1 * self.h) * self._spike()
        ticks = max(1, round(abs(_t3(rng)) * scale_bps / spec.tick_bps))
        ticks = min(ticks, int(200 / spec.tick_bps))  # cap a single sweep at 200 bps
        self.h = min(BURST_MAX, self.h + BURST_KICK)
        self.last_move_up = up
        widen = 0
        if rng.random() < self.regime[4]:
            widen = max(1, round(self.regime[5] * math.exp(rng.gauss(0.0, 0.8)) / spec.tick_bps))
            self.widen_until_ns = self.t_ns + int(rng.expovariate(1.0) * NS)
        maker = "SELL" if up else "BUY"
        if up:
            new_ask = self.asks[0] + ticks
            swept = self.asks[: bisect.bisect_left(self.asks, new_ask)]
            for i, p in enumerate(swept):
                if i < 3:  # the first levels fill as separate trades
                    self._record_trade(p, max(1, self._size(self.state.asks, p) // 2), maker)
                self._set(l2, "offer", p, 0)
            del self.asks[: len(swept)]
            self._ensure_level(l2, "offer", new_ask)
            new_bid = new_ask - 1 - widen
            self._fill_side(l2, "bid", self.bids[-1], new_bid)
            last = swept[min(2, len(swept) - 1)] if swept else new_ask
        else:
            new_bid = self.bids[-1] - ticks
            cut = bisect.bisect_right(self.bids, new_bid)
            swept = self.bids[cut:][::-1]
            for i, p in enumerate(swept):
                if i < 3:
                    self._record_trade(p, max(1, self._size(self.state.bids, p) // 2), maker)
                self._set(l2, "bid", p, 0)
            del self.bids[cut:]
            self._ensure_level(l2, "bid", new_bid)
            new_ask = new_bid + 1 + widen
            self._fill_side(l2, "offer", self.asks[0], new_ask)
            last = swept[min(2, len(swept) - 1)] if swept else new_bid
        self._trim(l2)
        return last

    def _ensure_level(self, l2: list, side: str, price: int) -> None:
        levels = self.bids if side == "bid" else self.asks
        i = bisect.bisect_left(levels, price)
        if i >= len(levels) or levels[i] != price:
            levels.insert(i, price)
            self._set(l2, side, price, self._top_size())

    def _fill_side(self, l2: list, side: str, old_best: int, new_best: int) -> None:
        """Move a side's best to new_best: new levels appear (sparse) between, crossed ones go."""
        if side == "bid":
            if new_best > old_best:
                p, added = new_best, 0
                while p > old_best and added < 12:
                    self._ensure_level(l2, "bid", p)
                    p -= self._gap_ticks()
                    added += 1
            else:
                cut = bisect.bisect_right(self.bids, new_best)
                for q in self.bids[cut:]:
                    self._set(l2, "bid", q, 0)
                del self.bids[cut:]
                self._ensure_level(l2, "bid", new_best)
        else:
            if new_best < old_best:
                p, added = new_best, 0
                while p < old_best and added < 12:
                    self._ensure_level(l2, "offer", p)
                    p += self._gap_ticks()
                    added += 1
            else:
                cut = bisect.bisect_left(self.asks, new_best)
                for q in self.asks[:cut]:
                    self._set(l2, "offer", q, 0)
                del self.asks[:cut]
                self._ensure_level(l2, "offer", new_best)

    def _trim(self, l2: list) -> None:
        """Keep each side at its configured depth: drop the far levels, add far levels if short."""
        n = self.spec.book_levels
        while len(self.bids) > n:
            self._set(l2, "bid", self.bids.pop(0), 0)
        while len(self.asks) > n:
            self._set(l2, "offer", self.asks.pop(), 0)
        while len(self.bids) < n:
            p = self.bids[0] - self._gap_ticks()
            self.bids.insert(0, p)
            self._set(l2, "bid", p, self._top_size())
        while len(self.asks) < n:
            p = self.asks[-1] + self._gap_ticks()
            self.asks.append(p)
            self._set(l2, "offer", p, self._top_size())

    def _maybe_close_spread(self, l2: list) -> None:
        """After a widening ends, the side opposite the last move fills back to a one-tick spread."""
        if self.t_ns < self.widen_until_ns or self.asks[0] - self.bids[-1] <= 1:
            return
        if self.last_move_up:
            self._ensure_level(l2, "bid", self.asks[0] - 1)
        else:
            self._ensure_level(l2, "offer", self.bids[-1] + 1)

    def _book_change(self) -> MarketEvent:
        self._overlay = {}
        l2: list[tuple[str, int, int]] = []
        rng = self.rng
        self._maybe_close_spread(l2)
        side = "bid" if rng.random() < 0.5 else "offer"
        levels = self.bids if side == "bid" else self.asks
        depth = min(len(levels) - 1, int(rng.expovariate(1 / 4.0)))
        price = levels[-1 - depth] if side == "bid" else levels[depth]
        if depth > 0 and rng.random() < 0.3:
            # a level empties; another appears deeper in the book
            del levels[-1 - depth if side == "bid" else depth]
            self._set(l2, side, price, 0)
            self._trim(l2)
        else:
            self._set(l2, side, price, self._top_size())
        return MarketEvent(self.t_ns, self.spec.product_id, l2=l2)
