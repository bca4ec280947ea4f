"""What the live view knows: per-product series and pipeline health, built from topic records.

No I/O and no clock of its own (callers pass `now_ns`), so it is tested without Kafka. The Kafka
reader (`glue.view.reader`) feeds it one record at a time; the server (`glue.view.server`) asks it for
the events a page has not seen yet (`events_after`) and for the health table (`health`).

Events are small JSON-ready dicts in one append-only log with increasing `seq`, so every page keeps
one cursor and receives only what is new; a page that fell behind the log's bounded length gets a
fresh snapshot instead. Every string in an event comes from the feed and is treated by the page as text.
"""

from __future__ import annotations

import bisect
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from glue.records import CONTROL_KEY, HEADER_KIND, HEADER_RECV_NS, parse_rfc3339_ns

TOPICS = ("raw", "features", "predictions")
RATE_WINDOW_S = 10.0  # messages/s are averaged over this many seconds
FRAME_INDEX_S = 180.0  # (event time, receipt) pairs kept per product to measure featurize lag
MAX_PRODUCTS = 64  # a feed naming ever more products cannot grow the page without bound
# The envelope timestamp sits near the start of every Advanced Trade frame; a regex on the head avoids
# parsing multi-megabyte level2 snapshots just to read it.
_TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"([^"]{10,40})"')
_HEAD_BYTES = 512


@dataclass(frozen=True)
class LabelRule:
    """What the model's probability is of, as a line on the volatility chart (from its model.json).

    assignment: sigma_future >= tau[product], a flat line. relative: sigma_future >= k x the trailing
    reference (the RMS 1-s return over `reference_s` from the feature row's `rv_<reference_s>s_bps` and
    `n_ret_<reference_s>s`, by `glue.modeling.labels.reference_from_sums`), a line that follows the market.
    No model: no line.
    """

    label: str = "assignment"
    tau_bps: dict[str, float] = field(default_factory=dict)
    k: float | None = None
    reference_s: int = 600

    def limit(self, pid: str, row: dict[str, Any]) -> float | None:
        """The label's threshold on sigma_future at this feature row, in bps (None when unknown)."""
        if self.label != "relative":
            return self.tau_bps.get(pid, self.tau_bps.get("*"))
        from glue.modeling.labels import reference_from_sums

        rv, n = _num(row.get(f"rv_{self.reference_s}s_bps")), _num(row.get(f"n_ret_{self.reference_s}s"))
        if self.k is None or rv is None or n is None:
            return None
        ref = float(reference_from_sums(rv * rv, n, self.reference_s))  # the label's own rule
        return self.k * ref if ref == ref else None  # NaN: incomplete reference (warm-up, after a gap)

    def text(self, pid: str) -> str:
        """One line for the product card."""
        if self.label == "relative":
            return ("label: relative, sigma 60 s >= " + (f"{self.k:.2f}" if self.k is not None else "?")
                    + f" x RMS of the last {self.reference_s} s")
        tau = self.tau_bps.get(pid, self.tau_bps.get("*"))
        return "label τ " + (f"{tau:.2f} bps" if tau is not None else "?")


@dataclass
class TopicHealth:
    """Newest row and recent arrivals of one topic, by the broker's message timestamps."""

    newest_ms: int = 0
    count: int = 0
    arrivals_s: deque[float] = field(default_factory=deque)

    def seen(self, ts_ms: int, now_s: float) -> None:
        self.count += 1
        self.newest_ms = max(self.newest_ms, ts_ms)
        if ts_ms / 1000 >= now_s - RATE_WINDOW_S:  # by message time: the history read at start is not a burst
            self.arrivals_s.append(ts_ms / 1000)
        while self.arrivals_s and self.arrivals_s[0] < now_s - RATE_WINDOW_S:
            self.arrivals_s.popleft()

    def rate(self, now_s: float) -> float:
        while self.arrivals_s and self.arrivals_s[0] < now_s - RATE_WINDOW_S:
            self.arrivals_s.popleft()
        return len(self.arrivals_s) / RATE_WINDOW_S


@dataclass
class Latency:
    """The last few latencies of a stage, in ms (median and max of the recent ones are shown)."""

    recent: deque[float] = field(default_factory=lambda: deque(maxlen=200))

    def add(self, ms: float) -> None:
        self.recent.append(ms)

    def summary(self) -> dict[str, float | None]:
        if not self.recent:
            return {"p50_ms": None, "max_ms": None, "last_ms": None}
        ordered = sorted(self.recent)
        return {"p50_ms": round(ordered[len(ordered) // 2], 1), "max_ms": round(ordered[-1], 1),
                "last_ms": round(self.recent[-1], 1)}


class ViewState:
    """Series, alerts and health of everything the view has read (not thread-safe: one lock outside)."""

    def __init__(self, *, history_s: float = 600.0, stale_s: float = 5.0, max_alerts: int = 50,
                 label: LabelRule | None = None, max_events: int = 50_000) -> None:
        self.history_s = history_s
        self.stale_s = stale_s
        self.max_alerts = max_alerts
        self.label = label or LabelRule()
        self.seq = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=max_events)
        self.products: list[str] = []
        self.alerts: deque[dict[str, Any]] = deque(maxlen=max_alerts)
        self.topics = {name: TopicHealth() for name in TOPICS}
        self.frames: dict[str, tuple[list[int], list[int]]] = {}  # product -> (event ns, recv ns), sorted
        self.featurize_lag = Latency()
        self.score_latency = Latency()
        self.frames_total = 0
        self.reconnects = 0
        self.seq_gaps = 0
        self.skipped = 0  # records the view could not read (counted and shown, never an exception)
        self._gap_ids: set[tuple[str, str]] = set()
        self.latest: dict[str, dict[str, Any]] = {}
        self._newest_t: dict[str, int] = {}

    # -- feeding ------------------------------------------------------------------------------
    def _product(self, pid: Any) -> str | None:
        if not isinstance(pid, str) or not pid or pid == CONTROL_KEY:
            return None
        if pid not in self.products:
            if len(self.products) >= MAX_PRODUCTS:
                return None
            self.products.append(pid)
            self.products.sort()
        return pid

    def _emit(self, event: dict[str, Any]) -> None:
        self.seq += 1
        event["seq"] = self.seq
        self.log.append(event)
        if event["t"] > self._newest_t.get(event["p"], 0):
            self._newest_t[event["p"]] = event["t"]

    def add(self, topic: str, key: bytes | None, value: bytes | None, headers: list | None, ts_ms: int,
            now_ns: int) -> None:
        """One record of `topic` ("raw", "features" or "predictions"); bad records are counted, not raised."""
        self.topics[topic].seen(ts_ms, now_ns / 1e9)
        try:
            if topic == "raw":
                self._raw(key, value, headers)
            elif topic == "features":
                self._feature(json.loads(value or b""))
            else:
                self._prediction(json.loads(value or b""))
        except (ValueError, TypeError, KeyError, AttributeError):
            self.skipped += 1

    def _raw(self, key: bytes | None, value: bytes | None, headers: list | None) -> None:
        h = {k: v for k, v in (headers or [])}
        kind = (h.get(HEADER_KIND) or b"").decode()
        product = key.decode("utf-8", "replace") if key else ""
        if kind == "marker":
            marker = json.loads(value or b"")
            mtype = marker.get("type")
            ident = ((h.get("glue.conn") or b"").decode(), (h.get("glue.iseq") or b"").decode())
            if mtype == "connect" and (marker.get("detail") or {}).get("connection", 1) > 1:
                self.reconnects += 1
            elif mtype == "data_gap" and marker.get("reason") == "seq_gap" and ident not in self._gap_ids:
                self._gap_ids.add(ident)  # one marker is written under each product's key: count it once
                self.seq_gaps += 1
                if len(self._gap_ids) > 10_000:
                    self._gap_ids.clear()
            return
        self.frames_total += 1
        pid = self._product(product)
        match = _TIMESTAMP.search((value or b"")[:_HEAD_BYTES])
        if pid is None or match is None or HEADER_RECV_NS not in h:
            return
        event_ns = parse_rfc3339_ns(match.group(1).decode())
        recv_ns = int(h[HEADER_RECV_NS])
        events, recvs = self.frames.setdefault(pid, ([], []))
        i = bisect.bisect_right(events, event_ns)
        events.insert(i, event_ns)
        recvs.insert(i, recv_ns)
        cut = bisect.bisect_left(events, event_ns - int(FRAME_INDEX_S * 1e9))
        if cut > 1000:  # trim in chunks: list deletion at the front is O(n)
            del events[:cut], recvs[:cut]

    def _feature(self, row: dict[str, Any]) -> None:
        pid = self._product(row["product_id"])
        if pid is None:  # not a product id, or past MAX_PRODUCTS: counted, shown as "skipped"
            self.skipped += 1
            return
        t_ns = parse_rfc3339_ns(row["second_at"])
        emitted = row.get("emitted_at")
        frames = self.frames.get(pid)
        if isinstance(emitted, int) and frames and frames[0]:
            # The frames of the row's own second (event time in (t-1 s, t]): lag from the last of them to
            # arrive. Quiet seconds have none and are not measured (their "lag" would be the quiet time).
            lo = bisect.bisect_right(frames[0], t_ns - 1_000_000_000)
            hi = bisect.bisect_right(frames[0], t_ns)
            if hi > lo:
                self.featurize_lag.add((emitted - max(frames[1][lo:hi])) / 1e6)
        event = {"k": "f", "p": pid, "t": t_ns // 1_000_000, "mid": _num(row.get("mid_price")),
                 "v60": _num(row.get("vol_60s_bps")), "v300": _num(row.get("vol_300s_bps")),
                 "lim": self.label.limit(pid, row), "sv": _text(row.get("sql_version"))}
        self.latest.setdefault(pid, {}).update(mid=event["mid"], v60=event["v60"], v300=event["v300"])
        self._emit(event)

    def _prediction(self, msg: dict[str, Any]) -> None:
        pid = self._product(msg["product_id"])
        if pid is None:  # not a product id, or past MAX_PRODUCTS: counted, shown as "skipped"
            self.skipped += 1
            return
        t_ns = parse_rfc3339_ns(msg["second_at"])
        emitted, scored = msg.get("feature_emitted_at"), msg.get("scored_at")
        if isinstance(emitted, int) and isinstance(scored, int) and emitted > 0:
            self.score_latency.add((scored - emitted) / 1e6)
        event = {"k": "p", "p": pid, "t": t_ns // 1_000_000, "prob": _num(msg.get("probability")),
                 "spike": bool(msg.get("is_spike")), "thr": _num(msg.get("threshold")),
                 "mv": _text(msg.get("model_version")), "sv": _text(msg.get("sql_version"))}
        self.latest.setdefault(pid, {}).update(prob=event["prob"])
        self._emit(event)
        if event["spike"]:
            alert = {"p": pid, "t": event["t"], "prob": event["prob"], "thr": event["thr"]}
            self.alerts.append(alert)

    # -- reading ------------------------------------------------------------------------------
    def events_after(self, cursor: int) -> tuple[list[dict[str, Any]], int, bool]:
        """(events with seq > cursor, the new cursor, reset); reset = the page must start again from the log."""
        if not self.log:
            return [], cursor, False
        first = self.log[0]["seq"]
        reset = cursor < first - 1
        if reset or cursor == 0:
            return list(self.log), self.seq, reset
        start = cursor - first + 1  # seq is contiguous within the log
        return [self.log[i] for i in range(start, len(self.log))], self.seq, False

    def health(self, now_ns: int) -> dict[str, Any]:
        """The health table: per topic newest-row age, rate and staleness; ingest counters; latencies."""
        now_s = now_ns / 1e9
        topics = {}
        for name, t in self.topics.items():
            age = (now_ns / 1e6 - t.newest_ms) / 1000.0 if t.newest_ms else None
            topics[name] = {"age_s": None if age is None else round(max(age, 0.0), 1), "rate": round(t.rate(now_s), 1),
                            "count": t.count, "stale": age is None or age > self.stale_s}
        return {
            "topics": topics,
            "ingest": {"rate": topics["raw"]["rate"], "frames": self.frames_total, "reconnects": self.reconnects,
                       "seq_gaps": self.seq_gaps},
            "featurize_lag": self.featurize_lag.summary(),
            "score_latency": self.score_latency.summary(),
            "skipped": self.skipped,
            "products": [{"p": p, "label": self.label.text(p), **self.latest.get(p, {})}
                         for p in self.products],
            "stale_s": self.stale_s,
            "alerts": list(self.alerts),
        }

    def prune(self) -> None:
        """Drop events older than the history window of their product (by market time, newest row first)."""
        horizon = int(self.history_s * 1000)
        while self.log:
            ev = self.log[0]
            if ev["t"] >= self._newest_t.get(ev["p"], 0) - horizon:
                break
            self.log.popleft()


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ("" if v is None else str(v))
