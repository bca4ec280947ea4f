"""`glue import`: other people's Coinbase captures converted into the project's archive format.

Each input line is recognised on its own (so mixed files work) as one of:

* **raw** Advanced Trade envelope (`{"channel", "timestamp", "sequence_num", "events"}`): kept as the
  exact line text; receipt time = the envelope timestamp (the capture has no other);
* **wrapped** raw envelope under `payload` (or `message`/`msg`/`data`) with a receive time
  (`ingest_time`, `received_at`, ...): the payload, receipt time = that receive time;
* **flattened** ticker row (common field names detected, see `FIELD_ALIASES`, more with `--map`):
  an Advanced Trade `ticker` envelope is rebuilt from the fields present (values kept as decimal
  strings exactly; JSON numbers are rendered from their source text, which for Python-written
  files is the shortest round-trip `repr`), or from the full ticker object under `raw` when there
  is one. Envelope timestamp = the exchange time (`ws_timestamp`, ...) when present, else the local
  receive time. Marked `{"src": "import:flattened"}`;
* **legacy** Coinbase Exchange `ticker` (bare, or as JSON text under `raw`): rebuilt as an Advanced
  Trade ticker envelope (`best_bid_size` -> `best_bid_quantity`, `volume_24h` -> `volume_24_h`,
  envelope timestamp = the trade `time`); the legacy-only fields (`sequence`, `trade_id`,
  `last_size`, `side`, `open_24h`, `volume_30d`) are kept under `legacy` in the archive line, not
  mapped. Marked `{"src": "import:legacy"}`. Other legacy messages are skipped and reported.

Rules: every input file becomes its own `conn` (so sequence numbers restart); `sequence_num` is kept
where present, else synthesized (previous + 1 in the file, from 0). Naive timestamps are UTC unless
`assume_tz` is given. Duplicates are removed and counted: an identical raw frame seen before, or a
converted message whose content equals one from an *earlier* file within `dedup_window_s` of
receipt time, when the two files overlap in time (overlapping captures of the same stream; files that
merely follow each other share no duplicates). A `data_gap` marker (reason
`import_boundary`, detail `{"boundary": "file", ...}`) is written at a file boundary only when the
boundary proves a gap: the time from one file's last message to the next file's first exceeds
`boundary_gap_s` (callers pass the ingest watchdog, `ingest.watchdog_s`: the silence after which a
live connection is declared dead), or both files carry real sequence numbers, the previous file's
ran without a jump, and the next file's first is more than one past the previous file's last (so a
recorder that saves its stream in many small files loses nothing at the cuts). Inside a file,
wherever there is no message for more than `gap_threshold_s` seconds of event time, a marker with
detail `{"hole_s": ...}` is written: ticker-only captures have quiet seconds normally, so only longer
holes count. What cannot be converted is counted per reason with first examples,
never guessed. The output is deterministic: run id and connection ids derive from the input bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from glue.archive import ArchiveWriter
from glue.errors import ConfigError, DataError
from glue.records import (
    KIND_FRAME,
    KIND_MARKER,
    MARKER_DATA_GAP,
    Record,
    format_rfc3339_ns,
    frame_products,
    parse_rfc3339_ns,
)

log = logging.getLogger("glue.import")

# Advanced Trade ticker field -> names other captures use for it (first found wins).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "product_id": ("product_id", "product", "symbol", "pair"),
    "price": ("price", "last_price", "last"),
    "volume_24_h": ("volume_24_h", "volume_24h", "vol_24h"),
    "low_24_h": ("low_24_h", "low_24h"),
    "high_24_h": ("high_24_h", "high_24h"),
    "low_52_w": ("low_52_w", "low_52w"),
    "high_52_w": ("high_52_w", "high_52w"),
    "price_percent_chg_24_h": ("price_percent_chg_24_h", "price_pct_chg_24h", "price_percent_chg_24h"),
    "best_bid": ("best_bid", "bid"),
    "best_ask": ("best_ask", "ask"),
    "best_bid_quantity": ("best_bid_quantity", "best_bid_qty", "best_bid_size", "bid_qty", "bid_size"),
    "best_ask_quantity": ("best_ask_quantity", "best_ask_qty", "best_ask_size", "ask_qty", "ask_size"),
}
TICKER_FIELDS = tuple(FIELD_ALIASES)  # also the Coinbase key order
# Envelope-level fields of a flattened row.
EXCHANGE_TIME_ALIASES = ("ws_timestamp", "exchange_timestamp", "exchange_time", "envelope_timestamp")
RECEIVE_TIME_ALIASES = ("received_at", "ingest_time", "recv_time", "receive_time", "ts", "timestamp", "time")
SEQUENCE_ALIASES = ("sequence_num", "seq")
EVENT_TYPE_ALIASES = ("event_type",)
WRAPPER_KEYS = ("payload", "message", "msg", "data")
LEGACY_EXTRA_FIELDS = ("sequence", "trade_id", "last_size", "side", "open_24h", "volume_30d")

EXAMPLES_PER_REASON = 3
_TZ_SUFFIX = re.compile(r"(?:[Zz]|[+-]\d{2}:?\d{2})$")


@dataclass
class FileSummary:
    """What importing one input file did."""

    path: str
    conn: str
    messages_in: int = 0
    frames_out: int = 0
    markers_out: int = 0
    duplicates: int = 0
    holes: int = 0
    formats: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    products: set[str] = field(default_factory=set)
    first_ns: int | None = None
    last_ns: int | None = None

    def line(self) -> str:
        span = "no frames"
        if self.first_ns is not None and self.last_ns is not None:
            span = (f"{format_rfc3339_ns(self.first_ns)} -> {format_rfc3339_ns(self.last_ns)} "
                    f"({(self.last_ns - self.first_ns) / 1e9 / 60:.1f} min)")
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())) or "none"
        formats = ", ".join(f"{k} {v}" for k, v in sorted(self.formats.items())) or "-"
        return (f"{self.path}: {self.messages_in} in, {self.frames_out} frames out ({formats}), "
                f"{self.duplicates} duplicates removed, {self.holes} holes marked, skipped: {skipped}; "
                f"products {','.join(sorted(self.products)) or '-'}; {span}")


@dataclass
class ImportSummary:
    run_id: str
    out_dir: str
    files: list[FileSummary] = field(default_factory=list)
    archive_files: list[str] = field(default_factory=list)

    @property
    def frames_out(self) -> int:
        return sum(f.frames_out for f in self.files)

    @property
    def messages_in(self) -> int:
        return sum(f.messages_in for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    def skipped(self) -> Counter:
        total: Counter = Counter()
        for f in self.files:
            total.update(f.skipped)
        return total

    def lines(self) -> list[str]:
        out = [f.line() for f in self.files]
        for f in self.files:
            for reason, examples in sorted(f.examples.items()):
                for example in examples:
                    out.append(f"  skipped ({reason}): {example}")
        skipped = self.skipped()
        out.append(
            f"import {self.run_id}: {len(self.files)} file(s), {self.messages_in} messages in, {self.frames_out} "
            f"frames out, {self.duplicates} duplicates removed, {sum(skipped.values())} skipped -> {self.out_dir} "
            f"({len(self.archive_files)} archive file(s))"
        )
        return out


class _Skip(Exception):
    """A line that cannot be converted: the reason is counted and examples kept."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Converted:
    frame: str
    fmt: str  # raw | wrapped | flattened | legacy
    recv_ns: int
    event_ns: int
    products: list[str]
    dedup_key: str
    exact: bool  # dedup on the key alone (raw frames), or within the time window (converted rows)
    extra: dict[str, Any]
    synthesized_seq: bool = False


def expand_sources(sources: list[str]) -> list[Path]:
    """Files named, and *.ndjson/*.jsonl/*.json files under directories named, sorted per directory."""
    paths: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix in {".ndjson", ".jsonl", ".json"})
            if not found:
                raise DataError(f"no .ndjson/.jsonl files under {src}", "name the capture files directly")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise DataError(f"input {src} does not exist", "check the path")
    return paths


def parse_mapping(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`--map price=last_px` (Advanced Trade field = source field) into a dict."""
    known = set(TICKER_FIELDS) | {"exchange_time", "receive_time", "sequence_num", "event_type"}
    out = {}
    for item in items:
        target, sep, source = item.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise ConfigError(f"--map {item!r} is not FIELD=SOURCE_FIELD", "for example --map price=last_px")
        if target not in known:
            raise ConfigError(f"--map: unknown target field {target!r}", f"known: {', '.join(sorted(known))}")
        out[target] = source
    return out


def import_captures(
    sources: list[str],
    out_dir: str,
    *,
    assume_tz: str | None = None,
    mapping: dict[str, str] | None = None,
    gap_threshold_s: float = 10.0,
    boundary_gap_s: float = 10.0,
    dedup_window_s: float = 2.0,
    rotate_mb: int = 256,
    overwrite: bool = False,
) -> ImportSummary:
    """Convert capture files into archive files under out_dir; see the module docstring."""
    paths = expand_sources(sources)
    tz = _timezone(assume_tz)
    converter = _Converter(tz, mapping or {})
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(functools.partial(fh.read, 1 << 20), b""):
                digest.update(chunk)
    options = json.dumps([assume_tz, sorted((mapping or {}).items()), gap_threshold_s, dedup_window_s]
                         + ([boundary_gap_s] if boundary_gap_s != 10.0 else []))
    digest.update(options.encode())
    run_id = f"import-{digest.hexdigest()[:12]}"
    out = Path(out_dir)
    _prepare_out(out, run_id, overwrite)
    summary = ImportSummary(run_id=run_id, out_dir=os.fspath(out))
    gap_ns = int(gap_threshold_s * 1e9)
    boundary_ns = int(boundary_gap_s * 1e9)
    window_ns = int(dedup_window_s * 1e9)
    seen_exact: set[str] = set()
    seen_window: dict[str, list[tuple[int, int]]] = {}  # content key -> [(recv_ns, file index)]
    last_recv: dict[int, int] = {}  # file index -> its latest receipt time (where its coverage ends)
    iseq = 0
    prev_last_ns: int | None = None
    prev_products: set[str] = set()
    prev_seq: int | None = None  # the previous file's last real sequence number, when its run had no jump
    with ArchiveWriter(out, run_id, rotate_mb * 1024 * 1024) as archive:
        for index, path in enumerate(paths, 1):
            conn = f"{run_id}-{index:04d}"
            fs = FileSummary(path=os.fspath(path), conn=conn)
            summary.files.append(fs)
            next_seq = 0
            last_event_ns: int | None = None
            first_seq_checked = False
            last_real_seq: int | None = None
            seq_contiguous = True
            first_recv: int | None = None  # where this file's coverage starts
            with open(path, encoding="utf-8", errors="surrogateescape") as fh:
                for lineno, raw_line in enumerate(fh, 1):
                    line = raw_line.rstrip("\r\n")
                    if not line.strip():
                        continue  # blank lines are not messages
                    fs.messages_in += 1
                    try:
                        conv = converter.convert(line, next_seq)
                    except _Skip as skip:
                        fs.skipped[skip.reason] += 1
                        examples = fs.examples.setdefault(skip.reason, [])
                        if len(examples) < EXAMPLES_PER_REASON:
                            examples.append(f"{path.name}:{lineno}: {line[:160]}")
                        continue
                    first_recv = conv.recv_ns if first_recv is None else first_recv
                    last_recv[index] = max(last_recv.get(index, conv.recv_ns), conv.recv_ns)
                    if _is_duplicate(conv, index, seen_exact, seen_window, window_ns, first_recv, last_recv):
                        fs.duplicates += 1
                        continue
                    markers = []
                    seq = None if conv.synthesized_seq else converter.last_seq
                    if last_event_ns is None and prev_last_ns is not None and conv.event_ns > prev_last_ns:
                        silent = conv.event_ns - prev_last_ns > boundary_ns
                        jumped = seq is not None and prev_seq is not None and seq > prev_seq + 1
                        if silent or jumped:
                            markers.append(_gap(prev_products | set(conv.products), prev_last_ns, conv.event_ns,
                                                {"boundary": "file", "file": path.name,
                                                 "why": "silence" if silent else "sequence"}))
                    elif last_event_ns is not None and conv.event_ns - last_event_ns > gap_ns:
                        fs.holes += 1
                        markers.append(_gap(fs.products | set(conv.products), last_event_ns, conv.event_ns,
                                            {"hole_s": (conv.event_ns - last_event_ns) / 1e9, "file": path.name}))
                    for marker in markers:
                        iseq += 1
                        archive.add(Record(KIND_MARKER, conv.recv_ns, conn, iseq, marker=marker))
                        fs.markers_out += 1
                    iseq += 1
                    archive.add(Record(KIND_FRAME, conv.recv_ns, conn, iseq, frame=conv.frame, extra=conv.extra))
                    fs.frames_out += 1
                    fs.formats[conv.fmt] += 1
                    fs.products.update(conv.products)
                    next_seq = converter.last_seq + 1
                    if seq is not None:
                        if last_real_seq is not None and seq != last_real_seq + 1:
                            seq_contiguous = False
                        last_real_seq = seq
                    first_seq_checked = True
                    last_event_ns = conv.event_ns if last_event_ns is None else max(last_event_ns, conv.event_ns)
                    fs.first_ns = conv.event_ns if fs.first_ns is None else min(fs.first_ns, conv.event_ns)
                    fs.last_ns = conv.event_ns if fs.last_ns is None else max(fs.last_ns, conv.event_ns)
            if last_event_ns is not None:
                prev_last_ns = last_event_ns if prev_last_ns is None else max(prev_last_ns, last_event_ns)
                prev_products = set(fs.products)
                prev_seq = last_real_seq if seq_contiguous and first_seq_checked else None
            log.info("import: %s", fs.line())
        archive.flush()
    summary.archive_files = [os.fspath(p) for p in archive.files]
    if summary.frames_out == 0:
        raise DataError(f"nothing could be converted from {len(paths)} file(s) ({dict(summary.skipped())})",
                        "check the format; use --map for other field names")
    return summary


def _gap(products: set[str], from_ns: int, to_ns: int, detail: dict[str, Any]) -> dict[str, Any]:
    return {"type": MARKER_DATA_GAP, "reason": "import_boundary", "products": sorted(products),
            "from_ns": from_ns, "to_ns": to_ns, "detail": detail}


def _is_duplicate(conv: _Converted, file_index: int, seen_exact: set[str],
                  seen_window: dict[str, list[tuple[int, int]]], window_ns: int, first_recv: int,
                  last_recv: dict[int, int]) -> bool:
    """An identical raw frame seen before, or (messages without an exchange time) the same content as a
    message of an earlier file that this file overlaps in time, within `window_ns` of receipt. Files that
    follow each other without overlapping (a recorder's stream cut into small files) share no
    duplicates: an unchanged ticker repeated across a cut is two messages, as it is inside one file."""
    if conv.exact:
        if conv.dedup_key in seen_exact:
            return True
        seen_exact.add(conv.dedup_key)
        return False
    entries = seen_window.setdefault(conv.dedup_key, [])
    for i, (recv_ns, idx) in enumerate(entries):
        same_line = idx == file_index and recv_ns == conv.recv_ns
        other_file = idx < file_index and first_recv <= last_recv[idx] and abs(recv_ns - conv.recv_ns) <= window_ns
        if same_line or other_file:
            entries.pop(i)  # each earlier message absorbs at most one copy
            return True
    entries.append((conv.recv_ns, file_index))
    return False


def _prepare_out(out: Path, run_id: str, overwrite: bool) -> None:
    existing = sorted(out.glob(f"*/{run_id}-*.ndjson")) if out.is_dir() else []
    if existing and not overwrite:
        raise DataError(f"{out} already holds this import ({existing[0]})", "pass --overwrite or another --out")
    for path in existing:
        path.unlink()


def _timezone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"--assume-tz {name!r} is not a known time zone", "use an IANA name like UTC or "
                          "America/New_York") from exc


def _decimal_text(value: Any) -> str | None:
    """A field value as Coinbase's decimal string, exactly as written in the source."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):  # JSON numbers are parsed as Decimal: their source text is kept
        text = format(value, "f")
        return text
    if isinstance(value, int):
        return str(value)
    return None


class _Converter:
    """Turns one input line into one Advanced Trade frame (or raises _Skip)."""

    def __init__(self, tz: tzinfo | None, mapping: dict[str, str]) -> None:
        self.tz = tz
        self.mapping = mapping
        self.last_seq = -1

    def convert(self, line: str, next_seq: int) -> _Converted:
        try:
            obj = json.loads(line, parse_float=Decimal)
        except ValueError:
            raise _Skip("malformed_json") from None
        if not isinstance(obj, dict):
            raise _Skip("not_a_json_object")
        if "channel" in obj and "events" in obj:
            return self._raw(obj, line, None)
        for key in WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, dict) and "channel" in inner and "events" in inner:
                recv_ns = self._first_time(obj, RECEIVE_TIME_ALIASES, "receive_time")
                return self._raw(inner, None, recv_ns)
        legacy = _legacy_message(obj)
        if legacy is not None:
            return self._legacy(legacy, obj, next_seq)
        if isinstance(obj.get("type"), str) and obj.get("type") == "error":
            raise _Skip("error_message")
        return self._flattened(obj, next_seq)

    # -- raw envelopes ---------------------------------------------------------------------------

    def _raw(self, env: dict[str, Any], line: str | None, recv_ns: int | None) -> _Converted:
        ts = env.get("timestamp")
        if not isinstance(ts, str):
            raise _Skip("raw_envelope_without_timestamp")
        try:
            event_ns = parse_rfc3339_ns(ts)
        except ValueError:
            raise _Skip("raw_envelope_bad_timestamp") from None
        seq = env.get("sequence_num")
        has_seq = isinstance(seq, int) and not isinstance(seq, bool)
        if has_seq and isinstance(seq, int):  # isinstance again: it narrows seq for the type checker
            self.last_seq = seq
        # Bare lines are kept byte for byte; a wrapped payload is re-serialised in its key order,
        # with the default separators most Python captures used.
        frame = line if line is not None else json.dumps(env, default=_json_default)
        fmt = "raw" if line is not None else "wrapped"
        return _Converted(frame=frame, fmt=fmt, recv_ns=recv_ns if recv_ns is not None else event_ns,
                          event_ns=event_ns, products=frame_products(env), dedup_key=frame, exact=True,
                          extra={"src": f"import:{fmt}"}, synthesized_seq=not has_seq)

    # -- flattened ticker rows -------------------------------------------------------------------

    def _flattened(self, obj: dict[str, Any], next_seq: int) -> _Converted:
        raw = obj.get("raw")
        ticker: dict[str, Any]
        if isinstance(raw, dict) and raw.get("type") == "ticker" and "product_id" in raw:
            ticker = {k: (_decimal_text(v) if not isinstance(v, str) else v) for k, v in raw.items()}
        else:
            ticker = {"type": "ticker"}
            for name in TICKER_FIELDS:
                value = self._field(obj, name)
                if value is not None:
                    text = _decimal_text(value)
                    if text is None:
                        raise _Skip(f"bad_value:{name}")
                    ticker[name] = text
        if not isinstance(ticker.get("product_id"), str) or not ticker.get("product_id"):
            raise _Skip("no_product_id")
        if "price" not in ticker:
            raise _Skip("no_price")
        recv_ns = self._first_time(obj, RECEIVE_TIME_ALIASES, "receive_time", required=False)
        exch_text = self._exchange_time_text(obj)
        if exch_text is not None:
            event_ns = parse_rfc3339_ns(exch_text)
            timestamp = exch_text
        elif recv_ns is not None:
            event_ns = recv_ns
            timestamp = format_rfc3339_ns(recv_ns)
        else:
            raise _Skip("no_timestamp")
        if recv_ns is None:
            recv_ns = event_ns
        seq_value = self._field_raw(obj, SEQUENCE_ALIASES, "sequence_num")
        synthesized = not (isinstance(seq_value, int) and not isinstance(seq_value, bool))
        seq = next_seq if synthesized else int(seq_value)
        self.last_seq = seq
        event_type = self._field_raw(obj, EVENT_TYPE_ALIASES, "event_type")
        event_type = event_type if event_type in ("snapshot", "update") else "update"
        envelope = {"channel": "ticker", "timestamp": timestamp, "sequence_num": seq,
                    "events": [{"type": event_type, "tickers": [ticker]}]}
        content = json.dumps(ticker, sort_keys=True) + "|" + (exch_text or "")
        return _Converted(frame=json.dumps(envelope, separators=(",", ":")), fmt="flattened", recv_ns=recv_ns,
                          event_ns=event_ns, products=[ticker["product_id"]], dedup_key=content,
                          exact=exch_text is not None, extra={"src": "import:flattened"},
                          synthesized_seq=synthesized)

    def _field(self, obj: dict[str, Any], name: str) -> Any:
        return self._field_raw(obj, FIELD_ALIASES[name], name)

    def _field_raw(self, obj: dict[str, Any], aliases: tuple[str, ...], name: str) -> Any:
        if name in self.mapping:
            return obj.get(self.mapping[name])
        for alias in aliases:
            if alias in obj:
                return obj[alias]
        return None

    def _exchange_time_text(self, obj: dict[str, Any]) -> str | None:
        value = self._field_raw(obj, EXCHANGE_TIME_ALIASES, "exchange_time")
        if value is None:
            return None
        if not isinstance(value, str):
            raise _Skip("bad_exchange_time")
        try:
            parse_rfc3339_ns(value)
        except ValueError:
            raise _Skip("bad_exchange_time") from None
        return value

    def _first_time(
        self, obj: dict[str, Any], aliases: tuple[str, ...], name: str, required: bool = True
    ) -> int | None:
        value = self._field_raw(obj, aliases, name)
        if value is None:
            if required:
                raise _Skip("no_receive_time")
            return None
        ns = self._to_ns(value)
        if ns is None:
            raise _Skip("bad_receive_time")
        return ns

    def _to_ns(self, value: Any) -> int | None:
        """A time value (ISO 8601 / RFC 3339 text, or epoch seconds) to epoch ns; naive = assume_tz/UTC."""
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return int(Decimal(value) * 1_000_000_000)
        if not isinstance(value, str):
            return None
        text = value.strip()
        try:
            ns = parse_rfc3339_ns(text)
        except ValueError:
            return None
        if self.tz is not None and not _has_offset(text):
            # parse_rfc3339_ns read the naive time as UTC; shift by the zone's offset at that wall time
            wall = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(tzinfo=None)
            offset = self.tz.utcoffset(wall)
            if offset is not None:
                ns -= int(offset.total_seconds()) * 1_000_000_000
        return ns

    # -- legacy Exchange feed --------------------------------------------------------------------

    def _legacy(self, msg: dict[str, Any], outer: dict[str, Any], next_seq: int) -> _Converted:
        mtype = msg.get("type")
        if mtype != "ticker":
            raise _Skip(f"legacy_{mtype}_not_converted")
        product = msg.get("product_id")
        time_text = msg.get("time")
        if not isinstance(product, str) or not isinstance(time_text, str):
            raise _Skip("legacy_ticker_without_product_or_time")
        try:
            event_ns = parse_rfc3339_ns(time_text)
        except ValueError:
            raise _Skip("legacy_bad_time") from None
        ticker: dict[str, Any] = {"type": "ticker", "product_id": product}
        legacy_names = {"volume_24_h": "volume_24h", "low_24_h": "low_24h", "high_24_h": "high_24h",
                        "best_bid_quantity": "best_bid_size", "best_ask_quantity": "best_ask_size"}
        for name in TICKER_FIELDS[1:]:
            source = legacy_names.get(name, name)
            if source in msg:
                text = _decimal_text(msg[source])
                if text is None:
                    raise _Skip(f"legacy_bad_value:{source}")
                ticker[name] = text
        if "price" not in ticker:
            raise _Skip("legacy_ticker_without_price")
        recv_ns = event_ns
        for alias in RECEIVE_TIME_ALIASES:
            if alias in outer and outer is not msg:
                ns = self._to_ns(outer[alias])
                if ns is not None:
                    recv_ns = ns
                    break
        seq = next_seq
        self.last_seq = seq
        envelope = {"channel": "ticker", "timestamp": format_rfc3339_ns(event_ns), "sequence_num": seq,
                    "events": [{"type": "update", "tickers": [ticker]}]}
        legacy_extra = {k: _json_plain(msg[k]) for k in LEGACY_EXTRA_FIELDS if k in msg}
        key = json.dumps({k: _json_plain(v) for k, v in msg.items()}, sort_keys=True)
        return _Converted(frame=json.dumps(envelope, separators=(",", ":")), fmt="legacy", recv_ns=recv_ns,
                          event_ns=event_ns, products=[product], dedup_key=key, exact=True,
                          extra={"src": "import:legacy", "legacy": legacy_extra}, synthesized_seq=True)


def _legacy_message(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The legacy Exchange message in this line (bare, or JSON text / object under `raw`), if any."""
    raw = obj.get("raw")
    if isinstance(raw, str):
        try:
            inner = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise _Skip("legacy_raw_not_json") from None
        if isinstance(inner, dict) and isinstance(inner.get("type"), str) and "channel" not in inner:
            return inner
        if isinstance(inner, dict) and "channel" in inner and "events" in inner:
            return None
        raise _Skip("raw_text_not_recognised")
    if isinstance(obj.get("type"), str) and obj["type"] != "error" and ("sequence" in obj or "channels" in obj):
        return obj
    return None


def _has_offset(text: str) -> bool:
    return _TZ_SUFFIX.search(text) is not None


def _json_plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A float inside a raw payload: emit the number itself, as written in the source.
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
