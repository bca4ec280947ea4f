"""Level2 resnapshots after sequence gaps: when to ask the exchange for the books again, what is awaited.

A `sequence_num` gap means messages of the connection were lost, so every level2 book it carries is
unknown until a new `l2_data` snapshot arrives (the warehouse holds a book invalid from the `data_gap`
marker to the next snapshot). The exchange has no replay: a new snapshot is asked for by sending
`unsubscribe` + `subscribe` of `level2` on the same connection. `Resnapshot` decides when, per connection:

* a gap needs a new snapshot of every book, except the books whose snapshot from the last request has
  not arrived yet: it comes later in sequence order than the loss, so it repairs that too;
* at most one request per `interval_s` (a burst of gaps costs one multi-MB snapshot per product, not one
  per gap); a gap inside the interval stays pending and is sent when the interval ends, and a pending
  request that every book's snapshot has satisfied meanwhile is dropped;
* after a request, a snapshot is awaited per product (its subscribed id or the id the exchange aliases
  it to). Whether the real exchange resends a snapshot on a second subscribe is undocumented (fact sheet
  1.6): when one is still missing after `timeout_s`, the caller reconnects, which always brings fresh
  snapshots. A new connection starts afresh (its own subscribe brings the snapshots).

Pure logic, no I/O and no clock: the caller passes monotonic time and sends the messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from glue.protocol import canonical_product


@dataclass(frozen=True)
class ResnapshotRequest:
    """What one request repairs: the gaps (and messages missing) since the previous request."""

    gaps: int
    missing: int


class Resnapshot:
    """The resnapshot plan of the current connection; see the module docstring."""

    def __init__(self, products: tuple[str, ...] | list[str], interval_s: float, timeout_s: float) -> None:
        self.products = tuple(dict.fromkeys(products))
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        # Snapshots carry the product id the exchange serves: BTC-USDC is answered as BTC-USD.
        self._names = {p: {p, canonical_product(p)} for p in self.products}
        self.new_connection()

    def new_connection(self) -> None:
        self._sent_at: float | None = None  # when the last request was sent on this connection
        self._awaiting: set[str] = set()  # requested, snapshot not seen yet
        self._need: set[str] = set()  # a gap made these books unknown, not requested yet
        self._gaps = 0
        self._missing = 0

    @property
    def pending(self) -> bool:
        """A request is waiting for the interval to end."""
        return bool(self._need)

    @property
    def awaiting(self) -> tuple[str, ...]:
        return tuple(sorted(self._awaiting))

    def on_gap(self, missing: int) -> bool:
        """A sequence gap on the connection; False when snapshots already requested cover every book."""
        uncovered = set(self.products) - self._awaiting
        if not uncovered:
            return False
        self._need |= uncovered
        self._gaps += 1
        self._missing += missing
        return True

    def on_snapshot(self, product_id: str) -> bool:
        """An `l2_data` snapshot arrived; True when it satisfied the last book a pending request needed."""
        was_pending = bool(self._need)
        for p, names in self._names.items():
            if product_id in names:
                self._awaiting.discard(p)
                self._need.discard(p)
        if was_pending and not self._need:
            self._gaps = self._missing = 0
            return True
        return False

    def due(self, now: float) -> ResnapshotRequest | None:
        """The request to send now, if one is pending and the interval allows; it is then counted as sent."""
        if not self._need:
            return None
        if self._sent_at is not None and now - self._sent_at < self.interval_s:
            return None
        request = ResnapshotRequest(self._gaps, self._missing)
        self._need = set()
        self._gaps = self._missing = 0
        self._awaiting = set(self.products)
        self._sent_at = now
        return request

    def timed_out(self, now: float) -> tuple[str, ...]:
        """Products still without a snapshot `timeout_s` after the last request (reported once)."""
        if not self._awaiting or self._sent_at is None or now - self._sent_at < self.timeout_s:
            return ()
        late = self.awaiting
        self._awaiting = set()
        return late
