"""The per-connection sequence tracker: which frames are good, what is missing.

`StreamTracker` observes the `glue.protocol.FrameInfo` of each received frame (`glue.protocol.inspect_frame`
parses and classifies it once) and follows `sequence_num` per connection (one
counter per connection over all channels, starting at 0, heartbeats and `subscriptions` included)
and `heartbeat_counter`, and returns the marker dicts (glue.records MARKER_*) to write *before* the
frame that revealed them:

* a number above the expected one: `data_gap` (reason `seq_gap`) over the products of the
  connection, from the event time of the last frame known good to this frame's event time;
* a number already seen: `duplicate`; a lower, unseen number: `out_of_order` (the frame is kept);
* a `heartbeat_counter` that does not go up by exactly 1: `heartbeat_gap` (no data is implied
  missing when `sequence_num` is continuous, so no `data_gap`);
* the first frame of a new connection after an earlier one: `data_gap` over the disconnect window
  (reason `disconnect` or `watchdog`), from the last good frame of any earlier connection;
* an in-order heartbeat: `clock` at its envelope time over the products of the connection (nothing is
  missing; it tells the warehouse how far the exchange clock got for products that sent nothing).

Pure logic, no I/O: unit tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glue.protocol import BAD, ERROR, HEARTBEAT, UNKNOWN_CHANNEL, FrameInfo
from glue.records import (
    MARKER_BAD_FRAME,
    MARKER_CLOCK,
    MARKER_DATA_GAP,
    MARKER_DUPLICATE,
    MARKER_ERROR_FRAME,
    MARKER_HEARTBEAT_GAP,
    MARKER_OUT_OF_ORDER,
    parse_rfc3339_ns,
)

SEEN_WINDOW = 4096  # how many recent sequence numbers are remembered to tell duplicates from late ones


def event_ns(ts_text: str | None) -> int | None:
    if ts_text is None:
        return None
    try:
        return parse_rfc3339_ns(ts_text)
    except ValueError:
        return None


@dataclass
class TrackerStats:
    seq_gaps: int = 0
    missing_messages: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    heartbeat_gaps: int = 0
    bad_frames: int = 0
    error_frames: int = 0
    unknown_channel: int = 0
    disconnect_gaps: int = 0
    clocks: int = 0  # clock markers written (one per in-order heartbeat)


@dataclass
class _Conn:
    conn_id: str
    expected: int | None = None  # next sequence_num expected
    last_heartbeat: int | None = None
    seen: set[int] = field(default_factory=set)
    first_frame_seen: bool = False


class StreamTracker:
    """Follows sequence numbers per connection and the last good event time across connections."""

    def __init__(self, products: list[str] | tuple[str, ...]) -> None:
        self.products = sorted(set(products))
        self.stats = TrackerStats()
        self._conn: _Conn | None = None
        self._last_good_ts: str | None = None  # event time text of the last frame known good
        self._pending_gap_reason: str | None = None  # set when a connection ended after frames
        self._pending_gap_detail: dict[str, Any] = {}

    def new_connection(self, conn_id: str) -> None:
        self._conn = _Conn(conn_id)

    def connection_ended(self, reason: str) -> None:
        """Call when a connection ends; the next connection's first frame closes the gap window."""
        if self._last_good_ts is not None and self._pending_gap_reason is None:
            self._pending_gap_reason = reason

    def restart_after(self, last_good_ts: str, detail: dict[str, Any]) -> None:
        """An earlier run died (no clean stop): this run's first frame closes a `restart` gap from its last
        good frame, over the whole time no process was connected."""
        self._last_good_ts = last_good_ts
        self._pending_gap_reason = "restart"
        self._pending_gap_detail = dict(detail)

    def observe(self, info: FrameInfo) -> list[dict[str, Any]]:
        """Markers (possibly none) to write before this frame; updates the state."""
        conn = self._conn
        assert conn is not None, "new_connection() first"
        markers: list[dict[str, Any]] = []
        self._classify_markers(info, markers)
        if not conn.first_frame_seen and info.timestamp is not None:
            conn.first_frame_seen = True
            if self._pending_gap_reason is not None:
                markers.append(self._gap(self._pending_gap_reason, info,
                                         {"conn": conn.conn_id, **self._pending_gap_detail}))
                self.stats.disconnect_gaps += 1
                self._pending_gap_reason = None
                self._pending_gap_detail = {}
        if info.seq is None:
            return markers
        seq = info.seq
        if conn.expected is None or seq == conn.expected:
            if conn.expected is None and seq != 0:
                # The first number on a connection is 0: anything else means frames were lost
                # before it (covered by the disconnect gap when there was an earlier connection).
                self.stats.seq_gaps += 1
                self.stats.missing_messages += seq
                markers.append(self._gap("seq_gap", info, {"conn": conn.conn_id, "expected": 0,
                                                            "got": seq, "missing": seq}))
            self._accept(conn, info, markers)
        elif seq > conn.expected:
            missing = seq - conn.expected
            self.stats.seq_gaps += 1
            self.stats.missing_messages += missing
            markers.append(
                self._gap("seq_gap", info, {"conn": conn.conn_id, "expected": conn.expected, "got": seq,
                                            "missing": missing})
            )
            self._accept(conn, info, markers)
        elif seq in conn.seen:
            self.stats.duplicates += 1
            markers.append({"type": MARKER_DUPLICATE, "products": [],
                            "detail": {"conn": conn.conn_id, "seq": seq, "expected": conn.expected}})
        else:
            self.stats.out_of_order += 1
            conn.seen.add(seq)
            markers.append({"type": MARKER_OUT_OF_ORDER, "products": [],
                            "detail": {"conn": conn.conn_id, "seq": seq, "expected": conn.expected}})
        if info.heartbeat_counter is not None:
            self._heartbeat(conn, info, markers)
        return markers

    def _classify_markers(self, info: FrameInfo, markers: list[dict[str, Any]]) -> None:
        conn_id = self._conn.conn_id if self._conn else None
        if info.cls == ERROR:
            self.stats.error_frames += 1
            markers.append({"type": MARKER_ERROR_FRAME, "products": [],
                            "detail": {"conn": conn_id, "message": info.reason}})
        elif info.cls == BAD:
            self.stats.bad_frames += 1
            markers.append({"type": MARKER_BAD_FRAME, "products": [],
                            "detail": {"conn": conn_id, "reason": info.reason}})
        elif info.cls == UNKNOWN_CHANNEL:
            self.stats.unknown_channel += 1
            markers.append({"type": MARKER_BAD_FRAME, "products": [],
                            "detail": {"conn": conn_id, "reason": "unknown_channel", "channel": info.channel}})

    def _accept(self, conn: _Conn, info: FrameInfo, markers: list[dict[str, Any]]) -> None:
        seq = info.seq
        assert seq is not None
        conn.expected = seq + 1
        conn.seen.add(seq)
        if len(conn.seen) > 2 * SEEN_WINDOW:
            floor = seq - SEEN_WINDOW
            conn.seen = {s for s in conn.seen if s > floor}
        if info.timestamp is not None:
            self._last_good_ts = info.timestamp
        if info.cls == HEARTBEAT:
            self._clock(conn, info, markers)

    def _clock(self, conn: _Conn, info: FrameInfo, markers: list[dict[str, Any]]) -> None:
        """A `clock` marker at an in-order heartbeat's exchange time, for every product of the connection.

        The exchange sends a connection's messages in `sequence_num` order, so when its heartbeat stamped H
        arrives, every frame it sent before H has arrived: the warehouse may then finalize a product that
        sent nothing (SQL v3). Written under each product's key, it stays in that product's order in Kafka.
        """
        at_ns = event_ns(info.timestamp)
        if at_ns is None or not self.products:
            return
        self.stats.clocks += 1
        markers.append({"type": MARKER_CLOCK, "products": list(self.products), "at_ns": at_ns,
                        "detail": {"conn": conn.conn_id, "seq": info.seq}})

    def _heartbeat(self, conn: _Conn, info: FrameInfo, markers: list[dict[str, Any]]) -> None:
        counter = info.heartbeat_counter
        assert counter is not None
        last = conn.last_heartbeat
        conn.last_heartbeat = counter
        if last is not None and counter != last + 1:
            self.stats.heartbeat_gaps += 1
            markers.append({"type": MARKER_HEARTBEAT_GAP, "products": [],
                            "detail": {"conn": conn.conn_id, "expected": last + 1, "got": counter}})

    def _gap(self, reason: str, info: FrameInfo, detail: dict[str, Any]) -> dict[str, Any]:
        """A data_gap marker ending at this frame's event time (receipt time if it has none)."""
        to_ns = event_ns(info.timestamp)
        from_ns = event_ns(self._last_good_ts)
        if to_ns is None:
            detail = {**detail, "to_ns_unknown": True}
            to_ns = from_ns if from_ns is not None else 0
        if from_ns is None:
            # Nothing good seen before: the gap is open-ended on the left.
            detail = {**detail, "from_ns_unknown": True}
            from_ns = to_ns
        return {
            "type": MARKER_DATA_GAP,
            "reason": reason,
            "products": list(self.products),
            "from_ns": from_ns,
            "to_ns": to_ns,
            "detail": detail,
        }
