"""Landing rows: records (and their Kafka coordinates) -> rows of raw_frames / raw_markers.

Pure Python, no I/O. It owns the two landing facts that depend on arrival order and therefore must be
decided exactly once, at landing, identically in live and replay:

* `event_ns`: the envelope `timestamp` (`glue.protocol.frame_facts`, which also names the frame's products);
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

from glue.protocol import frame_facts
from glue.records import CONTROL_KEY, KIND_FRAME, MARKER_DATA_GAP, Record

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


__all__ = ["MARKER_DATA_GAP", "Coord", "KafkaBook", "LandingBatch", "ProductState", "build_batch"]
