"""Where the fake exchange's market comes from: the simulator or a recording.

Owns the shared event log. Both sources produce events lazily, in event-time order, into one log that
every connection reads with its own cursor; so a reconnecting client finds the market where it is
now (as with a live exchange), and at `--speed 0` the market advances only as fast as clients read.

* `SimSource`: the seeded model of `market.py`, any number of products (more can be added when a
  client subscribes to them); `truth` is the committed state at the end of the log (snapshots).
* `RecordingSource`: frames from archive files (`glue.records.read_archive`; markers, subscription
  acks, heartbeats and error frames skipped and counted: the server makes its own), with their
  recorded envelope timestamps; the sequence number is renumbered per connection when sent.
"""

from __future__ import annotations

import heapq
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from glue.errors import DataError
from glue.exchange.market import NS, MarketEvent, MarketState, ProductModel, product_spec
from glue.records import KIND_FRAME, frame_products, parse_rfc3339_ns, read_archive

log = logging.getLogger("glue.exchange.source")

TRIM_AT = 50_000  # log entries kept before trimming below the slowest connection's cursor


class EventLog:
    """A lazily produced, shared, trimmed list of events; cursors are absolute indexes."""

    start_ns: int

    def __init__(self) -> None:
        self._log: list = []
        self._base = 0
        self._cursors: dict[int, int] = {}

    # Subclasses: the next event's time without producing it, and producing it.
    def _next_ns(self) -> int | None:
        raise NotImplementedError

    def _produce(self) -> object | None:
        raise NotImplementedError

    @property
    def end(self) -> int:
        return self._base + len(self._log)

    def peek_ns(self, cursor: int) -> int | None:
        if self._base <= cursor < self.end:
            return self._log[cursor - self._base].ns
        return self._next_ns()

    def get(self, cursor: int):
        """The event at cursor (produced on demand), or None when the source is exhausted."""
        if cursor < self._base:
            raise RuntimeError(f"event {cursor} was trimmed from the shared log (base {self._base})")
        while cursor >= self.end:
            ev = self._produce()
            if ev is None:
                return None
            self._log.append(ev)
        return self._log[cursor - self._base]

    def commit_until(self, ns: int) -> None:
        """Produce every event up to event time ns (a joining client starts after them)."""
        while True:
            nxt = self._next_ns()
            if nxt is None or nxt >= ns:
                return
            self._log.append(self._produce())
            if len(self._log) > TRIM_AT and not self._cursors:
                self._trim(self.end)

    def join_at(self, now_ns: int) -> int:
        """The cursor a client joining at market time now_ns starts from (the market as it is now)."""
        self.commit_until(now_ns)
        return self.end

    def note_cursor(self, conn: int, cursor: int | None) -> None:
        """Connections report where they are (None = gone), so the log can be trimmed."""
        if cursor is None:
            self._cursors.pop(conn, None)
        else:
            self._cursors[conn] = cursor
        if len(self._log) > TRIM_AT:
            self._trim(min(self._cursors.values(), default=self.end))

    def _trim(self, upto: int) -> None:
        drop = upto - self._base
        if drop > 0:
            del self._log[:drop]
            self._base = upto


class SimSource(EventLog):
    kind = "sim"

    def __init__(
        self, products: Iterable[str], seed: int, start_ns: int, book_levels: int = 500, duration_s: float = 0,
        spikes: Iterable[tuple[float, float, float]] = (),
    ) -> None:
        super().__init__()
        # (seconds after start, duration s, factor) -> market-time windows every product's model spikes in
        self.spikes = tuple((start_ns + int(a * NS), start_ns + int((a + d) * NS), float(f)) for a, d, f in spikes)
        self.seed = seed
        self.start_ns = start_ns
        self.book_levels = book_levels
        self.end_ns = start_ns + int(duration_s * NS) if duration_s > 0 else None
        self.models: dict[str, ProductModel] = {}
        self.truth: dict[str, MarketState] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._pending: dict[str, MarketEvent] = {}
        self._order: dict[str, int] = {}
        self.last_ns = start_ns
        for pid in products:
            self.ensure_product(pid)

    def ensure_product(self, product_id: str) -> bool:
        """Start simulating a product (at the current market time) unless it runs already."""
        if product_id in self.models:
            return False
        model = ProductModel(product_spec(product_id, self.book_levels), self.seed, self.last_ns)
        model.spikes = self.spikes
        self.models[product_id] = model
        self.truth[product_id] = model.state.copy()
        self._order[product_id] = len(self._order)
        self._schedule(product_id)
        return True

    def _schedule(self, pid: str) -> None:
        ev = self.models[pid].next_event()
        assert ev is not None
        self._pending[pid] = ev
        heapq.heappush(self._heap, (ev.ns, self._order[pid], pid))

    def _next_ns(self) -> int | None:
        if not self._heap:
            return None
        ns = self._heap[0][0]
        if self.end_ns is not None and ns > self.end_ns:
            return None
        return ns

    def _produce(self) -> MarketEvent | None:
        if self._next_ns() is None:
            return None
        _, _, pid = heapq.heappop(self._heap)
        ev = self._pending.pop(pid)
        self.truth[pid].apply(ev)
        self.last_ns = ev.ns
        self._schedule(pid)
        return ev

    def views(self) -> dict[str, MarketState]:
        return {pid: st.copy() for pid, st in self.truth.items()}


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    ns: int
    channel: str  # data-side channel name
    products: frozenset[str]
    head: str  # text up to the sequence_num value
    tail: str  # text after it


_SEQ = re.compile(r'"sequence_num"\s*:\s*-?\d+')
SKIPPED_CHANNELS = frozenset({"subscriptions", "heartbeats"})


def split_frame(text: str) -> tuple[str, str]:
    """Split a recorded frame around its sequence_num value (added before the end if absent)."""
    m = _SEQ.search(text)
    if m:
        value_at = m.end() - len(m.group().split(":")[-1].strip())
        return text[:value_at], text[m.end() :]
    body = text.rstrip()
    return body[:-1] + ',"sequence_num":', "}"


class RecordingSource(EventLog):
    kind = "recording"

    def __init__(self, paths: Iterable[str]) -> None:
        super().__init__()
        self.paths = [str(p) for p in paths]
        if not self.paths:
            raise DataError("--source recording needs at least one --recording file", "pass --recording PATH")
        self.skipped: Counter[str] = Counter()
        self._joined = False
        self._frames = self._read()
        self._next: RecordedFrame | None = next(self._frames, None)
        if self._next is None:
            raise DataError(f"no replayable frames in {', '.join(self.paths)}", "check the archive files")
        self.start_ns = self._next.ns
        self.last_ns = self.start_ns

    def _read(self) -> Iterator[RecordedFrame]:
        last_ns = None
        try:
            records = read_archive(self.paths)
            for rec in records:
                if rec.kind != KIND_FRAME or rec.frame is None:
                    self.skipped["marker"] += 1
                    continue
                try:
                    obj = json.loads(rec.frame)
                except ValueError:
                    self.skipped["malformed"] += 1
                    continue
                channel = obj.get("channel") if isinstance(obj, dict) else None
                if not isinstance(channel, str):
                    self.skipped["error" if isinstance(obj, dict) and obj.get("type") == "error" else "other"] += 1
                    continue
                if channel in SKIPPED_CHANNELS:
                    self.skipped[channel] += 1
                    continue
                try:
                    ns = parse_rfc3339_ns(obj["timestamp"])
                except (KeyError, TypeError, ValueError):
                    if last_ns is None:
                        self.skipped["untimed"] += 1
                        continue
                    ns = last_ns
                last_ns = ns
                head, tail = split_frame(rec.frame)
                yield RecordedFrame(ns, channel, frozenset(frame_products(obj)), head, tail)
        except FileNotFoundError as exc:
            raise DataError(f"recording not found: {exc.filename}", "check the --recording path") from exc
        except ValueError as exc:
            raise DataError(f"not a glue archive: {exc}", "convert captures with `glue import` first") from exc

    def join_at(self, now_ns: int) -> int:
        # The first client hears the recording from its beginning; later ones join where it is now.
        if not self._joined:
            self._joined = True
            return self.end
        return super().join_at(now_ns)

    def _next_ns(self) -> int | None:
        return None if self._next is None else self._next.ns

    def _produce(self) -> RecordedFrame | None:
        ev = self._next
        if ev is not None:
            self.last_ns = max(self.last_ns, ev.ns)
            self._next = next(self._frames, None)
        return ev
