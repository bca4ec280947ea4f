"""Landing rows: records (and their Kafka coordinates) -> rows of raw_frames / raw_markers.

Pure Python, no I/O. It owns the two landing facts that depend on arrival order and therefore must be
decided exactly once, at landing, identically in live and replay:

* `event_ns`: the envelope `timestamp`, parsed by `glue.records.parse_rfc3339_ns` (the one parser);
  a frame without a usable timestamp (or outside 2000-2100) gets NULL and never reaches the grid.
* `arrival_wm_ns`: the product's watermark just before the row arrived, `max(event_ns of the product's
  earlier rows) - lateness_ns`. A frame with `event_ns < arrival_wm_ns` is *late* and is excluded by
  the staging views; a data_gap marker cannot reach back before it.

Per product, Kafka partition order equals archive order, so this is the same for any cut of the stream
into batches: the state carried between batches is only `max_event_ns` per product.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from glue.records import CONTROL_KEY, KIND_FRAME, MARKER_DATA_GAP, Record, frame_products, parse_rfc3339_ns

MIN_EVENT_NS = 946684800 * 10**9  # 2000-01-01: sanity bounds, so one corrupt stamp cannot stretch a grid
MAX_EVENT_NS = 4102444800 * 10**9  # 2100-01-01

# (topic, partition, offset) or (topic, partition, offset, key); None for replayed archives
Coord = tuple[Any, ...]

FRAME_COLUMNS = ("land_seq", "product_key", "kind", "recv_ns", "conn", "iseq", "payload", "event_ns",
                 "arrival_wm_ns", "topic", "kafka_partition", "kafka_offset")
MARKER_COLUMNS = ("land_seq", "product_key", "kind", "recv_ns", "conn", "iseq", "marker_type", "payload",
                  "arrival_wm_ns", "topic", "kafka_partition", "kafka_offset")


@dataclass
class ProductState:
    max_event_ns: int | None = None
    min_accepted_event_ns: int | None = None
    last_final_s: int | None = None


@dataclass
class KafkaBook:
    """What a batch of Kafka records contributes besides rows: offsets to store, its first coordinate, dead ones."""

    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    first_coord: tuple[int, int] | None = None
    n_dead: int = 0

    def note(self, coord: Coord | None) -> tuple[Any, int | None, int | None, str | None]:
        """Record one record's coordinate; returns (topic, partition, offset, Kafka key), all None for replay."""
        if coord is None:
            return None, None, None, None
        topic, partition, offset = coord[0], int(coord[1]), int(coord[2])
        tp = (topic, partition)
        self.offsets[tp] = max(self.offsets.get(tp, -1), offset + 1)
        if self.first_coord is None:
            self.first_coord = (partition, offset)
        return topic, partition, offset, (coord[3] if len(coord) > 3 else None)


@dataclass
class LandingBatch(KafkaBook):
    """Column lists ready for Arrow, plus what changed."""

    frames: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in FRAME_COLUMNS})
    markers: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in MARKER_COLUMNS})
    touched: set[str] = field(default_factory=set)
    n_late: int = 0
    n_control: int = 0
    n_no_time: int = 0


_msgspec_decode = msgspec.json.Decoder().decode


def parse_json(text: str) -> Any:
    """`json.loads` semantics, faster: msgspec first, json.loads when msgspec refuses (NaN, huge ints, ...)."""
    try:
        return _msgspec_decode(text)
    except Exception:
        return json.loads(text)


class _Item(msgspec.Struct):
    product_id: Any = None


class _Event(msgspec.Struct):
    product_id: Any = None
    tickers: list[_Item] | None = None
    trades: list[_Item] | None = None
    candles: list[_Item] | None = None
    products: list[_Item] | None = None


class _Envelope(msgspec.Struct):
    """Only the fields landing needs (envelope timestamp, product ids); unknown fields are skipped."""

    timestamp: Any = None
    events: list[_Event] | None = None


_typed_decode = msgspec.json.Decoder(_Envelope).decode


def frame_facts(text: str) -> tuple[list[str], int | None]:
    """(products of the frame per glue.records.frame_products, envelope event time) of a frame's text.

    The typed msgspec path reads only what it needs; any frame it cannot type (other shapes, bad JSON,
    NaN, ...) goes through json.loads + frame_products, so the result is always the reference rule's.
    """
    try:
        env = _typed_decode(text)
    except Exception:
        try:
            obj = parse_json(text)
        except (ValueError, TypeError, RecursionError):
            return [], None
        try:
            products = frame_products(obj)
        except TypeError:  # e.g. {"events": true}: not a protocol message, no product
            products = []
        return products, envelope_event_ns(obj)
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


def envelope_event_ns(obj: Any) -> int | None:
    """The envelope timestamp as epoch ns, or None if missing or implausible."""
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

    The whole-second prefix is parsed once by parse_rfc3339_ns and cached (a stream has ~1 new second per
    second), so the result equals parse_rfc3339_ns by construction; the unit tests check it too.
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


def build_batch(
    records: Sequence[Record | None],
    coords: Sequence[Coord | None] | None,
    states: dict[str, ProductState],
    next_land_seq: int,
    lateness_ns: int,
) -> tuple[LandingBatch, int]:
    """Rows for one landing transaction; updates `states` in place; returns (batch, next land_seq).

    `records[i]` None means "consumed but dead-lettered": only its offset is recorded.
    A coordinate's 4th item, when present, is the Kafka key = the product key the record lands under;
    without it (replay) the record is fanned out with the same rule as the producer (`frame_products`).
    """
    batch = LandingBatch()
    seq = next_land_seq
    # bound appends, in FRAME_COLUMNS order (the per-frame hot loop; replay lands ~10^5 frames per call)
    (f_seq, f_key, f_kind, f_recv, f_conn, f_iseq, f_payload, f_event, f_wm, f_topic, f_partition,
     f_offset) = (batch.frames[c].append for c in FRAME_COLUMNS)
    for i, rec in enumerate(records):
        topic, partition, offset, key = batch.note(coords[i] if coords is not None else None)
        if rec is None:
            batch.n_dead += 1
            continue
        if rec.kind == KIND_FRAME:
            products, event_ns = frame_facts(rec.frame or "")
            keys = [key] if key is not None else (products or [CONTROL_KEY])
            for pk in keys:
                wm = _frame_watermark(pk, event_ns, states, lateness_ns, batch)
                f_seq(seq)
                f_key(pk)
                f_kind(rec.kind)
                f_recv(rec.recv_ns)
                f_conn(rec.conn)
                f_iseq(rec.iseq)
                f_payload(rec.frame)
                f_event(event_ns)
                f_wm(wm)
                f_topic(topic)
                f_partition(partition)
                f_offset(offset)
                seq += 1
        else:
            marker = rec.marker or {}
            keys = [key] if key is not None else (sorted(set(marker.get("products") or [])) or [CONTROL_KEY])
            payload = json.dumps(marker, separators=(",", ":"), sort_keys=True)
            for pk in keys:
                st = states.get(pk)
                wm = None if st is None or st.max_event_ns is None else st.max_event_ns - lateness_ns
                cols = batch.markers
                cols["land_seq"].append(seq)
                cols["product_key"].append(pk)
                cols["kind"].append(rec.kind)
                cols["recv_ns"].append(rec.recv_ns)
                cols["conn"].append(rec.conn)
                cols["iseq"].append(rec.iseq)
                cols["marker_type"].append(marker.get("type"))
                cols["payload"].append(payload)
                cols["arrival_wm_ns"].append(wm if pk != CONTROL_KEY else None)
                cols["topic"].append(topic)
                cols["kafka_partition"].append(partition)
                cols["kafka_offset"].append(offset)
                seq += 1
    return batch, seq


def _frame_watermark(pk: str, event_ns: int | None, states: dict[str, ProductState], lateness_ns: int,
                     batch: LandingBatch) -> int | None:
    """The arrival watermark of a frame; advances the product's state."""
    if pk == CONTROL_KEY:
        batch.n_control += 1
        return None
    st = states.setdefault(pk, ProductState())
    wm = None if st.max_event_ns is None else st.max_event_ns - lateness_ns
    if event_ns is None:
        batch.n_no_time += 1
        return wm
    if wm is not None and event_ns < wm:
        batch.n_late += 1
    else:
        if st.min_accepted_event_ns is None or event_ns < st.min_accepted_event_ns:
            st.min_accepted_event_ns = event_ns
    if st.max_event_ns is None or event_ns > st.max_event_ns:
        st.max_event_ns = event_ns
    batch.touched.add(pk)
    return wm


__all__ = ["MARKER_DATA_GAP", "Coord", "KafkaBook", "LandingBatch", "ProductState", "build_batch", "envelope_event_ns"]
