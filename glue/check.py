"""`glue check`: read a topic from the beginning, validate every frame, and report.

The topic is read without joining or committing any consumer group: partitions are assigned
directly, from their low watermark up to the high watermark captured at the start, so running a
check never moves anyone's offsets and always terminates even while ingest keeps writing.

Each Kafka record is decoded with `Record.from_kafka` (frames and markers; records without glue
headers are still validated as frames). A frame produced under several product keys (fan-out)
is counted once, identified by `(conn, iseq)`. Reported: counts per channel and per product,
invalid frames by kind with examples, sequence gaps and duplicates per connection, out-of-order
frames, markers by type, the event-time span. The check fails (CheckFailed) when fewer than
`min_valid` valid messages are there or the topic does not exist; with `strict`, also when
anything is invalid, missing or duplicated.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from glue.errors import CheckFailed, KafkaUnavailable
from glue.protocol import CHANNELS, ERROR_CHANNEL, MALFORMED, NO_CHANNEL, validate_frame
from glue.records import (
    HEADER_CONN,
    HEADER_ISEQ,
    HEADER_KIND,
    HEADER_SEQ,
    KIND_FRAME,
    KIND_MARKER,
    MARKER_DATA_GAP,
    Record,
    format_rfc3339_ns,
)

if TYPE_CHECKING:
    from glue.config import KafkaSettings

log = logging.getLogger("glue.check")

MAX_EXAMPLES = 10
NO_CONN = "?"  # records without glue headers


@dataclass
class ConnStats:
    """What one connection's frames say about its sequence numbers."""

    seqs: set[int] = field(default_factory=set)
    frames: int = 0
    duplicates: int = 0  # a sequence_num carried by two different received frames
    out_of_order: int = 0  # a lower sequence_num after a higher one, under the same key

    def gaps(self) -> list[tuple[int, int]]:
        """Holes as (last seq before, first seq after)."""
        ordered = sorted(self.seqs)
        return [(a, b) for a, b in itertools.pairwise(ordered) if b - a > 1]

    def missing(self) -> int:
        return sum(b - a - 1 for a, b in self.gaps())


@dataclass
class CheckReport:
    topic: str
    partitions: int = 0
    records: int = 0  # Kafka records read (fan-out copies included)
    frames: int = 0  # unique received frames
    valid: int = 0  # unique frames that are valid market-data messages
    redelivered: int = 0  # the same (conn, iseq, key) twice: a producer re-send
    no_headers: int = 0
    by_channel: Counter = field(default_factory=Counter)
    by_product: Counter = field(default_factory=Counter)
    invalid: Counter = field(default_factory=Counter)  # by kind
    examples: list[str] = field(default_factory=list)
    markers: Counter = field(default_factory=Counter)
    gap_markers: Counter = field(default_factory=Counter)  # data_gap markers by reason
    conns: dict[str, ConnStats] = field(default_factory=lambda: defaultdict(ConnStats))
    first_event_ns: int | None = None
    last_event_ns: int | None = None
    elapsed_s: float = 0.0

    @property
    def seq_gaps(self) -> int:
        return sum(len(c.gaps()) for c in self.conns.values())

    @property
    def seq_missing(self) -> int:
        return sum(c.missing() for c in self.conns.values())

    @property
    def duplicates(self) -> int:
        return sum(c.duplicates for c in self.conns.values())

    @property
    def out_of_order(self) -> int:
        return sum(c.out_of_order for c in self.conns.values())

    def lines(self) -> list[str]:
        """The human-readable report."""
        out = [
            f"topic {self.topic}: {self.partitions} partitions, {self.records} records, {self.frames} frames "
            f"({self.valid} valid, {sum(self.invalid.values())} invalid), {sum(self.markers.values())} markers "
            f"[read in {self.elapsed_s:.1f} s]"
        ]
        if self.first_event_ns is not None and self.last_event_ns is not None:
            span_s = (self.last_event_ns - self.first_event_ns) / 1e9
            out.append(
                f"event time: {format_rfc3339_ns(self.first_event_ns)} .. {format_rfc3339_ns(self.last_event_ns)}"
                f" ({span_s:.1f} s)"
            )
        out.append("per channel: " + _counts(self.by_channel))
        out.append("per product: " + _counts(self.by_product))
        if self.invalid:
            out.append("invalid: " + _counts(self.invalid))
            out.extend(f"  {e}" for e in self.examples)
        out.append("markers: " + _counts(self.markers))
        if self.gap_markers:
            out.append("data_gap markers by reason: " + _counts(self.gap_markers))
        out.append(
            f"sequence: {len(self.conns)} connections, {self.seq_gaps} gaps ({self.seq_missing} missing), "
            f"{self.duplicates} duplicates, {self.out_of_order} out of order"
        )
        for conn in sorted(self.conns):
            stats = self.conns[conn]
            if not stats.seqs:
                continue
            gaps = stats.gaps()
            shown = ", ".join(f"{a}->{b}" for a, b in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
            out.append(
                f"  conn {conn}: {stats.frames} frames, seq {min(stats.seqs)}..{max(stats.seqs)}, "
                f"{len(gaps)} gaps{(' (' + shown + ')') if gaps else ''}, {stats.duplicates} duplicates, "
                f"{stats.out_of_order} out of order"
            )
        if self.redelivered:
            out.append(f"redelivered records (same conn, iseq and key): {self.redelivered}")
        if self.no_headers:
            out.append(f"records without glue headers: {self.no_headers}")
        return out

    def failure(self, min_valid: int, strict: bool = False) -> str | None:
        """Why the check fails, or None."""
        if self.valid < min_valid:
            return f"only {self.valid} valid messages in {self.topic} (need at least {min_valid})"
        if strict:
            bad = {
                "invalid frames": sum(self.invalid.values()),
                "missing sequence numbers": self.seq_missing,
                "duplicates": self.duplicates,
                "out-of-order frames": self.out_of_order,
            }
            found = [f"{n} {what}" for what, n in bad.items() if n]
            if found:
                return f"{self.topic} has " + ", ".join(found) + " (--strict)"
        return None


def _counts(counter: Counter) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


class _Tally:
    """Feeds records into a CheckReport."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        self.seen: dict[tuple[str, int], set[bytes]] = {}  # (conn, iseq) -> keys seen
        self.seq_owner: dict[tuple[str, int], int] = {}  # (conn, seq) -> iseq of the first frame
        self.last_seq: dict[tuple[str, bytes], int] = {}  # (conn, key) -> last seq, for ordering

    def add(self, value: bytes | None, key: bytes | None, headers: list | None, where: str) -> None:
        r = self.report
        r.records += 1
        value = value or b""
        key = key or b""
        names = {k for k, _ in headers or ()}
        if HEADER_KIND in names and HEADER_CONN in names and HEADER_ISEQ in names:
            try:
                record = Record.from_kafka(value, headers)
            except (ValueError, KeyError) as exc:  # a marker that is not JSON, a bad number
                r.invalid["undecodable record"] += 1
                self._example(f"{where}: undecodable glue record ({exc})")
                return
            conn, iseq, kind = record.conn, record.iseq, record.kind
            seq_header = dict(headers or ()).get(HEADER_SEQ, b"")
        else:
            r.no_headers += 1
            record, conn, iseq, kind, seq_header = None, NO_CONN, r.records, KIND_FRAME, b""

        keys = self.seen.setdefault((conn, iseq), set())
        if key in keys:
            r.redelivered += 1
            return
        first_copy = not keys
        keys.add(key)
        if not first_copy:  # a fan-out copy of a frame already counted under another key
            if seq_header.isdigit():
                self._order(conn, key, int(seq_header))
            return

        if kind == KIND_MARKER:
            marker = record.marker if record is not None else {}
            mtype = str((marker or {}).get("type", "?"))
            r.markers[mtype] += 1
            if mtype == MARKER_DATA_GAP:
                r.gap_markers[str(marker.get("reason", "?"))] += 1
            return
        if kind != KIND_FRAME:
            r.invalid[f"unknown record kind {kind!r}"] += 1
            return

        r.frames += 1
        found = validate_frame(value)
        r.by_channel[found.channel] += 1
        for product in found.products:
            r.by_product[product] += 1
        if found.problems:
            r.invalid[_problem_kind(found.channel)] += 1
            self._example(f"{where}: {found.channel}: {found.problems[0]}")
        elif found.channel in CHANNELS:
            r.valid += 1
        if found.event_ns is not None and not found.problems:
            if r.first_event_ns is None or found.event_ns < r.first_event_ns:
                r.first_event_ns = found.event_ns
            if r.last_event_ns is None or found.event_ns > r.last_event_ns:
                r.last_event_ns = found.event_ns

        seq = int(seq_header) if seq_header and seq_header.isdigit() else found.sequence_num
        if seq is None:
            return
        stats = r.conns[conn]
        stats.frames += 1
        owner = self.seq_owner.setdefault((conn, seq), iseq)
        if owner != iseq:
            stats.duplicates += 1
        stats.seqs.add(seq)
        self._order(conn, key, seq)

    def _order(self, conn: str, key: bytes, seq: int) -> None:
        # Frames of one connection under one key share a partition, so their order there is
        # the order they were received in: a lower sequence_num after a higher one arrived late.
        last = self.last_seq.get((conn, key))
        if last is not None and seq < last:
            self.report.conns[conn].out_of_order += 1
        self.last_seq[(conn, key)] = seq if last is None else max(seq, last)

    def _example(self, text: str) -> None:
        if len(self.report.examples) < MAX_EXAMPLES:
            self.report.examples.append(text[:300])


def _problem_kind(channel: str) -> str:
    if channel == MALFORMED:
        return "malformed JSON"
    if channel == NO_CHANNEL:
        return "no channel"
    if channel == ERROR_CHANNEL:
        return "bad error frame"
    if channel not in CHANNELS:
        return "unknown channel"
    return f"invalid {channel}"


def check_topic(
    kafka_settings: KafkaSettings,
    topic: str,
    min_valid: int = 1,
    *,
    strict: bool = False,
    progress_interval_s: float = 5.0,
    stall_timeout_s: float = 60.0,
    emit: Callable[[str], None] | None = None,
) -> CheckReport:
    """Read `topic` from the beginning up to its current end and validate it.

    Prints the report through `emit` (if given), then raises CheckFailed when the topic is
    missing or has fewer than `min_valid` valid messages (or, with `strict`, any problem).
    Raises KafkaUnavailable when the broker cannot be reached.
    """
    report = read_topic(kafka_settings, topic, progress_interval_s=progress_interval_s,
                        stall_timeout_s=stall_timeout_s)
    if emit is not None:
        for line in report.lines():
            emit(line)
    reason = report.failure(min_valid, strict)
    if reason:
        raise CheckFailed(reason, "ingest more data, or lower --min" if report.valid < min_valid else None)
    return report


def read_topic(
    kafka_settings: KafkaSettings,
    topic: str,
    *,
    progress_interval_s: float = 5.0,
    stall_timeout_s: float = 60.0,
) -> CheckReport:
    """Tally every record of `topic` between the watermarks captured now (no group, no commits)."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    from glue.kafka import consumer_config

    started = time.monotonic()
    # A group id is required by librdkafka, but with assign() and no commits the group is never
    # joined: a unique throwaway name keeps even that invisible to real groups.
    conf = consumer_config(
        kafka_settings,
        f"glue-check-{uuid.uuid4().hex[:12]}",
        enable_partition_eof=True,
        enable_auto_offset_store=False,
        log_level=3,
    )
    consumer = Consumer(conf)
    try:
        try:
            meta = consumer.list_topics(topic, timeout=10)
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"Kafka at {kafka_settings.bootstrap_servers} is not reachable ({exc.args[0].str()})",
                "start it with 'glue broker up' or pass --bootstrap",
            ) from exc
        tmeta = meta.topics.get(topic)
        if tmeta is None or tmeta.error is not None or not tmeta.partitions:
            raise CheckFailed(
                f"topic {topic} does not exist on {kafka_settings.bootstrap_servers}",
                "check --topic, or create it (glue broker up / glue ingest)",
            )
        report = CheckReport(topic=topic, partitions=len(tmeta.partitions))
        ends: dict[int, int] = {}
        assignment = []
        for p in sorted(tmeta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
            if high > low:
                ends[p] = high
                assignment.append(TopicPartition(topic, p, low))
        total = sum(ends[p] - tp.offset for p, tp in zip(sorted(ends), assignment, strict=True))
        log.info(
            "check: reading %s: %d records in %d of %d partitions, up to the end captured now",
            topic, total, len(ends), report.partitions,
        )
        tally = _Tally(report)
        if assignment:
            consumer.assign(assignment)
        remaining = set(ends)
        last_progress = last_data = time.monotonic()
        while remaining:
            batch = consumer.consume(num_messages=1000, timeout=1.0)
            now = time.monotonic()
            for msg in batch:
                p = msg.partition()
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        remaining.discard(p)
                        continue
                    raise KafkaUnavailable(f"reading {topic}[{p}] failed ({err.str()})", "check the broker log")
                last_data = now
                if p not in remaining or msg.offset() >= ends[p]:
                    remaining.discard(p)
                    continue
                tally.add(msg.value(), msg.key(), msg.headers(), f"{topic}[{p}]@{msg.offset()}")
                if msg.offset() >= ends[p] - 1:
                    remaining.discard(p)
            if now - last_progress >= progress_interval_s:
                rate = report.records / max(now - started, 1e-9)
                log.info(
                    "check: %d/%d records (%.0f/s), %d valid, partitions left %d",
                    report.records, total, rate, report.valid, len(remaining),
                )
                last_progress = now
            if now - last_data > stall_timeout_s:
                raise KafkaUnavailable(
                    f"no records from {topic} for {stall_timeout_s:.0f} s with {len(remaining)} partitions unread",
                    "check the broker",
                )
        report.elapsed_s = time.monotonic() - started
        return report
    finally:
        consumer.close()
