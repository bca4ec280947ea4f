"""The record contracts shared by ingest, the archive, Kafka, the importer, featurize and replay.

One received WebSocket frame, or one marker the ingestor wrote about the stream, is a `Record`.
It travels in two encodings that carry the same fields:

* **Archive line** (NDJSON under `data/raw/YYYY-MM-DD/`), one JSON object per line:
  `{"v":1,"kind":"frame","recv_ns":...,"conn":"...","iseq":...,"frame":"<raw text>"}` or
  `{"v":1,"kind":"marker","recv_ns":...,"conn":"...","iseq":...,"marker":{...}}`.
  The frame is kept as the exact text received, so it is unchanged byte for byte.
* **Kafka record** on `ticks.raw`: value = the raw frame bytes (kind=frame) or the marker JSON
  (kind=marker); key = product id (`_control` for frames tied to no product); headers carry
  `glue.kind`, `glue.recv_ns`, `glue.conn`, `glue.iseq`, `glue.seq` and `glue.v`.

Archive readers: `read_archive` (the reference, `Record`s) and `read_archive_fast` (msgspec, for landing; a
unit test checks they agree).

A frame that names several products is produced once per product (same value, one key each);
`fanout_keys` is the single rule for that, used by the producer and by every archive loader,
so that live and replay land the same rows.

Markers (`MARKER_*`) tell replays where data may be missing. `data_gap` markers carry the
interval in exchange time (`from_ns`, `to_ns`, both exclusive bounds of what may be missing) and
the products they affect; the SQL gap rule reads only those. `clock` markers (one per heartbeat) say that
the connection carrying `products` has reached exchange time `at_ns`: written under each product's key, in
the product's own order, they let the warehouse finalize a product that has gone quiet (SQL v3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

FORMAT_VERSION = 1
CONTROL_KEY = "_control"

KIND_FRAME = "frame"
KIND_MARKER = "marker"

# Marker types. data_gap changes features and (SQL v3 on) clock moves watermarks; the others are counted
# and kept for audits.
MARKER_DATA_GAP = "data_gap"  # data in (from_ns, to_ns) may be missing for `products`
MARKER_CLOCK = "clock"  # the exchange clock of a connection carrying `products` reached `at_ns` (a heartbeat)
MARKER_CONNECT = "connect"  # a connection opened (detail: url, attempt)
MARKER_DISCONNECT = "disconnect"  # a connection ended (detail: code, reason, cause)
MARKER_SUBSCRIBED = "subscribed"  # subscribe messages sent (detail: channels, products; reason "resnapshot":
# level2 unsubscribed and subscribed again after a sequence gap, for new book snapshots; gaps, missing)
MARKER_DUPLICATE = "duplicate"  # a sequence_num seen twice on a connection (frame still kept)
MARKER_OUT_OF_ORDER = "out_of_order"  # a lower sequence_num arrived late (frame still kept)
MARKER_BAD_FRAME = "bad_frame"  # frame is not valid JSON / not a protocol message (frame kept)
MARKER_ERROR_FRAME = "error_frame"  # the server sent {"type":"error",...}
MARKER_HEARTBEAT_GAP = "heartbeat_gap"  # heartbeat_counter jumped

GAP_REASONS = ("seq_gap", "disconnect", "watchdog", "heartbeat_gap", "import_boundary", "startup")

HEADER_KIND = "glue.kind"
HEADER_RECV_NS = "glue.recv_ns"
HEADER_CONN = "glue.conn"
HEADER_ISEQ = "glue.iseq"
HEADER_SEQ = "glue.seq"
HEADER_VERSION = "glue.v"


@dataclass(frozen=True)
class Record:
    """A frame as received (text unchanged) or a marker, with its receipt metadata."""

    kind: str
    recv_ns: int  # UTC wall clock at receipt, nanoseconds since the epoch
    conn: str  # connection id, unique per connection (ingest) or per imported file
    iseq: int  # ingest sequence: strictly increasing per ingest process / import run
    frame: str | None = None  # raw text, for kind == "frame"
    marker: dict[str, Any] | None = None  # for kind == "marker"; has "type"
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"src": "import:flattened"}

    def to_archive_line(self) -> str:
        obj: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "kind": self.kind,
            "recv_ns": self.recv_ns,
            "conn": self.conn,
            "iseq": self.iseq,
        }
        if self.kind == KIND_FRAME:
            obj["frame"] = self.frame
        else:
            obj["marker"] = self.marker
        obj.update(self.extra)
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_archive_line(cls, line: str) -> Record:
        obj = json.loads(line)
        if obj.get("v") != FORMAT_VERSION or obj.get("kind") not in (KIND_FRAME, KIND_MARKER):
            raise ValueError("not a glue archive line (v/kind)")
        extra = {k: v for k, v in obj.items() if k not in {"v", "kind", "recv_ns", "conn", "iseq", "frame", "marker"}}
        return cls(
            kind=obj["kind"],
            recv_ns=int(obj["recv_ns"]),
            conn=str(obj["conn"]),
            iseq=int(obj["iseq"]),
            frame=obj.get("frame"),
            marker=obj.get("marker"),
            extra=extra,
        )

    def kafka_value(self) -> bytes:
        if self.kind == KIND_FRAME:
            assert self.frame is not None
            return self.frame.encode("utf-8")
        return json.dumps(self.marker, separators=(",", ":"), sort_keys=True).encode("utf-8")

    def kafka_headers(self, seq: int | None) -> list[tuple[str, bytes]]:
        return [
            (HEADER_VERSION, str(FORMAT_VERSION).encode()),
            (HEADER_KIND, self.kind.encode()),
            (HEADER_RECV_NS, str(self.recv_ns).encode()),
            (HEADER_CONN, self.conn.encode()),
            (HEADER_ISEQ, str(self.iseq).encode()),
            (HEADER_SEQ, b"" if seq is None else str(seq).encode()),
        ]

    @classmethod
    def from_kafka(cls, value: bytes, headers: Iterable[tuple[str, bytes]] | None) -> Record:
        h = {k: v for k, v in (headers or [])}
        kind = h[HEADER_KIND].decode()
        text = value.decode("utf-8", errors="replace")
        return cls(
            kind=kind,
            recv_ns=int(h[HEADER_RECV_NS]),
            conn=h[HEADER_CONN].decode(),
            iseq=int(h[HEADER_ISEQ]),
            frame=text if kind == KIND_FRAME else None,
            marker=json.loads(text) if kind == KIND_MARKER else None,
        )


def frame_products(obj: Any) -> list[str]:
    """Product ids a parsed Advanced Trade message is about, sorted and unique.

    Looks where the protocol puts them: events[].product_id (l2_data), events[].tickers[],
    events[].trades[]. Control messages (heartbeats, subscriptions, errors) give [].
    """
    found: set[str] = set()
    events = obj.get("events") if isinstance(obj, dict) else None
    # Wrong types anywhere (events: true, tickers: "x") mean "no product", never an exception.
    for event in events if isinstance(events, list) else ():
        if not isinstance(event, dict):
            continue
        pid = event.get("product_id")
        if isinstance(pid, str):
            found.add(pid)
        for key in ("tickers", "trades", "candles", "products"):
            items = event.get(key)
            for item in items if isinstance(items, list) else ():
                if isinstance(item, dict) and isinstance(item.get("product_id"), str):
                    found.add(item["product_id"])
    return sorted(found)


def fanout_keys(record: Record) -> list[str]:
    """The Kafka keys (and landing `product_key`s) a record is written under: the one rule."""
    if record.kind == KIND_MARKER:
        products = (record.marker or {}).get("products") or []
        return sorted(set(products)) or [CONTROL_KEY]
    try:
        obj = json.loads(record.frame or "")
    except (ValueError, TypeError):
        return [CONTROL_KEY]
    return frame_products(obj) or [CONTROL_KEY]


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_rfc3339_ns(text: str) -> int:
    """RFC 3339 (any number of fraction digits, `Z` or offset; naive = UTC) to epoch ns, exactly."""
    m = _RFC3339.match(text.strip())
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    base = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss), tzinfo=UTC)
    seconds = int(base.timestamp())
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        tz_digits = tz[1:].replace(":", "")
        seconds -= sign * (int(tz_digits[:2]) * 3600 + int(tz_digits[2:]) * 60)
    nanos = int((frac or "").ljust(9, "0")) if frac else 0
    return seconds * 1_000_000_000 + nanos


def format_rfc3339_ns(ns: int) -> str:
    """Epoch ns to Coinbase's envelope form: UTC, `Z`, trailing fraction zeros trimmed."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        return f"{base}.{nanos:09d}".rstrip("0") + "Z"
    return base + "Z"


def _archive_lines(paths: Iterable[str]) -> Iterator[tuple[str, int, str]]:
    """(path, line number, line) of every non-blank line of archive files, in file order."""
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    yield path, lineno, line


def _record_at(path: str, lineno: int, line: str) -> Record:
    try:
        return Record.from_archive_line(line)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"{path}:{lineno}: {exc}") from exc


def read_archive(paths: Iterable[str]) -> Iterator[Record]:
    """Records from archive files in file order; bad lines raise with file and line number (the reference)."""
    for path, lineno, line in _archive_lines(paths):
        yield _record_at(path, lineno, line)


class _ArchiveLine(msgspec.Struct, gc=False):
    """The fields of an archive line that landing reads (the same attribute names as `Record`).

    gc=False: replay holds ~10^5 of these per chunk; untracked objects keep the cyclic GC out of the loop.
    """

    v: Any = None
    kind: Any = None
    recv_ns: Any = None
    conn: Any = None
    iseq: Any = None
    frame: Any = None
    marker: Any = None


_decode_line = msgspec.json.Decoder(_ArchiveLine).decode


def read_archive_fast(paths: Iterable[str]) -> Iterator[Record | _ArchiveLine]:
    """`read_archive` for landing, about 6x faster: msgspec decodes the usual line into an
    `_ArchiveLine` (kind, recv_ns, conn, iseq, frame, marker: what `Warehouse.land` reads of a Record), without
    building a Record; anything unusual goes through the reference (same records, same errors)."""
    decode = _decode_line
    for path, lineno, line in _archive_lines(paths):
        try:
            obj = decode(line)
            if (obj.v == 1 and type(obj.recv_ns) is int and type(obj.iseq) is int and type(obj.conn) is str
                    and ((obj.kind == "frame" and type(obj.frame) is str and obj.marker is None)
                         or (obj.kind == "marker" and type(obj.marker) is dict and obj.frame is None))):
                yield obj
                continue
        except msgspec.DecodeError:
            pass
        yield _record_at(path, lineno, line)
