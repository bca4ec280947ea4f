"""Live featurizer: `ticks.raw` -> DuckDB warehouse -> final feature rows -> `ticks.features` + Parquet.

This module owns the consumer loop of `glue featurize`, its two sinks and the commit order that
makes a kill -9 at any point harmless. The SQL (what a feature is, when a second is final) belongs
to `glue.warehouse`; this loop only moves records in and rows out.

Commit order, per micro-batch (DuckDB is the source of truth):

1. **poll** up to `max_batch_frames` records; undecodable ones go to `ticks.dlq` (counted, never fatal).
2. **land**: `Warehouse.land` writes the records *and their Kafka offsets* in one DuckDB transaction.
3. **finalize**: `Warehouse.finalize` computes the seconds that became final and records them, with
   the export watermark, in one DuckDB transaction (an *export batch*, pending until step 6).
4. **Parquet**: the batch is written to `<dir>/part-<partition>-<offset>.parquet` (temp file + rename;
   the name is fixed by the batch, so writing it again after a crash rewrites the same bytes).
5. **Kafka**: one Kafka transaction holds the batch's rows (key = product) *and* the consumer-group
   offsets of the batch (`send_offsets_to_transaction`). The group's committed offsets therefore say
   exactly which batches Kafka already has: after a crash a pending batch is re-sent only if the
   committed offsets are behind the batch's own offsets.
6. **mark exported** in DuckDB. A batch that finalized nothing commits its landed offsets in an
   offsets-only Kafka transaction instead, so the group's lag stays meaningful.

On start and on every partition assignment the consumer seeks to the offsets stored in DuckDB
(not Kafka's committed ones, which trail them), then re-exports pending batches. A partition this
warehouse holds no offsets for is rebuilt from the start of the topic; if the group has committed offsets
for it (a previous owner published its rows), the rows final below that offset are not published again
(`Warehouse.begin_takeover` / `export_floors`). Guarantees: DuckDB and Parquet exactly once; Kafka exactly
once for `read_committed` consumers (the librdkafka default), also when a partition moves between instances.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glue import metrics
from glue.config import Settings
from glue.errors import GlueError, KafkaUnavailable, WarehouseError
from glue.parquet import write_parquet
from glue.records import Record, format_rfc3339_ns
from glue.signals import stop_on_signals

log = logging.getLogger("glue.featurize")

TXN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class FeaturizeJob:
    """What one `glue featurize` run consumes and writes (the CLI builds it from flags + settings)."""

    topic_in: str
    topic_out: str
    parquet_dir: Path
    warehouse: Path
    group_id: str
    max_seconds: float = 0.0  # 0 = no limit
    until_idle_s: float = 0.0  # 0 = run until stopped
    progress_interval_s: float = 5.0
    crash_at: str = ""  # test hook only, see CrashHook


@dataclass
class FeaturizeStats:
    """Counters of one run (and of one progress interval); `line()` is the progress/summary text."""

    frames: int = 0
    dead_letters: int = 0
    late: int = 0
    rows: int = 0
    batches: int = 0
    exports: int = 0
    recovered_exports: int = 0
    skipped_in_kafka: int = 0
    already_published: int = 0  # rows a previous owner of their partition had published (not sent again)
    book_breaks: int = 0  # level2 books broken so far (SQL v4: Warehouse.book_breaks, logged per step by reason)
    watermark_ns: int = 0
    elapsed_s: float = 0.0
    batch_s: list[float] = field(default_factory=list, repr=False)
    phase_s: dict[str, float] = field(default_factory=dict)  # land/finalize/export/snapshot, summed

    def line(self, elapsed_s: float, label: str = "featurize") -> str:
        rate = self.frames / elapsed_s if elapsed_s > 0 else 0.0
        lag = (time.time_ns() - self.watermark_ns) / 1e9 if self.watermark_ns else float("nan")
        busy = sum(self.batch_s)
        cost = 1000 * busy / len(self.batch_s) if self.batch_s else 0.0
        p50 = 1000 * sorted(self.batch_s)[len(self.batch_s) // 2] if self.batch_s else 0.0
        return (
            f"{label}: {self.frames} frames ({rate:.0f}/s), {self.rows} rows emitted in {self.exports} exports, "
            f"{self.dead_letters} dead-lettered, {self.late} late, {self.batches} batches "
            f"({cost:.1f} ms/batch, p50 {p50:.1f} ms, busy {busy:.2f} s), watermark lag {lag:.1f} s"
            + (f", {self.already_published} rows already published by a previous owner" if self.already_published
               else "")
            + (f", {self.book_breaks} level2 book breaks" if self.book_breaks else "")
        )


# ---------------------------------------------------------------------------------------------
# Decoding


class BadRecord(ValueError):
    """A `ticks.raw` record that is not in the glue.records encoding; the message is the reason."""


def decode(msg: Any) -> Record:
    """The `Record` a Kafka message carries, or `BadRecord` with a dead-letter reason."""
    value = msg.value()
    if value is None:
        raise BadRecord("empty value")
    try:
        return Record.from_kafka(value, msg.headers())
    except KeyError as exc:
        raise BadRecord(f"missing header {exc.args[0]}") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise BadRecord(f"undecodable record ({type(exc).__name__}: {str(exc)[:120]})") from exc


# ---------------------------------------------------------------------------------------------
# Rows out


def _json_value(v: Any) -> Any:
    # NaN/inf are not JSON; a non-finite feature is published as null.
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _json_default(v: Any) -> Any:
    # Exact decimals (should a SQL version emit one) travel as their text, never rounded to a float.
    return str(v)


def feature_messages(table: Any, emitted_at_ns: int) -> list[tuple[bytes, bytes]]:
    """(key, value) per row: key = product id, value = the row as JSON (contracts section 5).

    Timestamps become RFC 3339 `Z` strings; floats keep their shortest round-trip repr, so the
    JSON carries the exact bits of the DuckDB value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, list[Any]] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            ns = pc.cast(col.cast(pa.timestamp("ns")), pa.int64()).to_pylist()
            columns[name] = [None if v is None else format_rfc3339_ns(v) for v in ns]
        else:
            columns[name] = [_json_value(v) for v in col.to_pylist()]
    out = []
    for i in range(table.num_rows):
        row = {name: values[i] for name, values in columns.items()}
        row["emitted_at"] = emitted_at_ns
        value = json.dumps(row, separators=(",", ":"), default=_json_default).encode()
        out.append((str(row["product_id"]).encode(), value))
    return out


class ParquetSink:
    """Part files in one directory, each written whole (temp file, fsync, rename).

    A reader globbing `*.parquet` sees complete files only. Writing the same batch twice writes
    the same name with the same bytes, which makes re-export after a crash idempotent.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, table: Any) -> Path:
        final = self.directory / name
        tmp = self.directory / f".{name}.tmp"
        write_parquet(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return final


class KafkaSink:
    """A transactional producer: one Kafka transaction per export batch, with the group's offsets."""

    def __init__(self, kafka_settings: Any, topic: str, transactional_id: str) -> None:
        from confluent_kafka import Producer

        from glue import kafka

        self.topic = topic
        self.producer = Producer(
            kafka.producer_config(
                kafka_settings,
                **{
                    "transactional.id": transactional_id,
                    "enable.idempotence": True,
                    "linger.ms": 1,  # rows are published once per batch; lingering only adds delay
                    "transaction.timeout.ms": int(TXN_TIMEOUT_S * 2000),
                    "message.timeout.ms": int(TXN_TIMEOUT_S * 2000),
                },
            )
        )
        # Fences any zombie with the same id and aborts a transaction a crashed run left open.
        self.producer.init_transactions(TXN_TIMEOUT_S)

    def publish(self, messages: list[tuple[bytes, bytes]], offsets: list[Any], group_metadata: Any,
                crash: CrashHook | None = None) -> None:
        """Rows and consumer offsets in one transaction: both become visible together or not at all."""
        from confluent_kafka import KafkaException

        self.producer.begin_transaction()
        try:
            for key, value in messages:
                self._produce(key, value)
            if crash is not None and crash.point == "produced":
                self.producer.flush(TXN_TIMEOUT_S)  # the rows are on the broker, uncommitted
                crash("produced")
            self.producer.send_offsets_to_transaction(offsets, group_metadata, TXN_TIMEOUT_S)
            self.producer.commit_transaction(TXN_TIMEOUT_S)
        except KafkaException:
            self.producer.abort_transaction(TXN_TIMEOUT_S)
            raise

    def _produce(self, key: bytes, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(self.topic, key=key, value=value)
                return
            except BufferError:  # local queue full: let deliveries drain, then retry
                self.producer.poll(0.05)

    def close(self) -> None:
        self.producer.flush(10)


class DeadLetters:
    """`ticks.dlq` through `glue.kafka.DeadLetter`; flushed (acknowledged) before the batch lands.

    At least once: a crash between the flush and the DuckDB commit re-sends the same dead letters.
    """

    def __init__(self, kafka_settings: Any, topic: str) -> None:
        from confluent_kafka import Producer

        from glue import kafka

        self.producer = Producer(kafka.producer_config(kafka_settings, **{"linger.ms": 1}))
        self.acks = kafka.DeliveryCounter()
        self.letters = kafka.DeadLetter(self.producer, topic, on_delivery=self.acks)
        self.pending = 0

    def add(self, msg: Any, reason: str) -> None:
        self.pending += 1
        self.letters.send(
            reason, source_topic=msg.topic(), value=msg.value(), partition=msg.partition(), offset=msg.offset()
        )

    def flush(self) -> None:
        if self.pending:
            left = self.producer.flush(TXN_TIMEOUT_S)
            if left or self.acks.failed:
                raise KafkaUnavailable(
                    f"dead letters not acknowledged ({list(self.acks.errors)[:1] or left})", "check the broker"
                )
            self.pending = 0


# ---------------------------------------------------------------------------------------------
# The commit order


class CrashHook:
    """Test hook for the kill -9 tests: `point:N` SIGKILLs this process the N-th time it passes `point`.

    Points, in commit order: `landed`, `finalized`, `parquet`, `produced` (rows sent, Kafka
    transaction open), `kafka` (transaction committed, DuckDB not yet marked). Empty spec = never.
    """

    POINTS = ("landed", "finalized", "parquet", "produced", "kafka")

    def __init__(self, spec: str = "") -> None:
        self.point, _, n = spec.partition(":")
        if self.point and self.point not in self.POINTS:
            raise GlueError(f"unknown crash point '{self.point}'", f"use one of {', '.join(self.POINTS)}")
        self.left = int(n or 1)

    def __call__(self, point: str) -> None:
        if point == self.point:
            self.left -= 1
            if self.left <= 0:
                log.warning("featurize: crash point %s reached, killing this process (test hook)", point)
                logging.shutdown()
                os.kill(os.getpid(), signal.SIGKILL)


def without_published(table: Any, floors: dict[str, int]) -> Any:
    """The rows of `table` not already published by a previous owner: second_at after the product's floor."""
    if not floors or table.num_rows == 0:
        return table
    import pyarrow as pa
    import pyarrow.compute as pc

    floor_s = pa.array([floors.get(p, -(2**62)) for p in table.column("product_id").to_pylist()], pa.int64())
    seconds = pc.divide(table.column("second_at").cast(pa.int64()), 1_000_000)  # timestamp[us] -> epoch s
    return table.filter(pc.greater(seconds, floor_s))


def part_name(batch: Any) -> str:
    """Deterministic part file name of an export batch (fixed when the batch is recorded)."""
    return f"part-{batch.first_partition:03d}-{batch.first_offset:012d}.parquet"


class Exporter:
    """Moves pending export batches from DuckDB to Parquet and Kafka, then marks them exported."""

    def __init__(self, wh: Any, parquet: ParquetSink, kafka_sink: KafkaSink, consumer: Any, topic_in: str,
                 crash: CrashHook) -> None:
        self.wh = wh
        self.parquet = parquet
        self.kafka = kafka_sink
        self.consumer = consumer
        self.topic_in = topic_in
        self.crash = crash
        self._last_offsets_only: dict[int, int] = {}

    def export_pending(self, stats: FeaturizeStats, recovering: bool = False) -> int:
        """Publish every pending export batch in order; returns how many were published."""
        batches = self.wh.pending_exports()
        if not batches:
            return 0
        in_kafka = self._kafka_committed(batches) if recovering else {}
        floors = self.wh.export_floors()
        for batch in batches:
            table = without_published(batch.rows, floors)
            stats.already_published += batch.rows.num_rows - table.num_rows
            self.parquet.write(part_name(batch), table)
            self.crash("parquet")
            if self._already_in_kafka(batch, in_kafka):
                stats.skipped_in_kafka += 1
                log.info("featurize: export batch %s already in Kafka; marking it exported", batch.batch_id)
            else:
                self.kafka.publish(
                    feature_messages(table, time.time_ns()),
                    self._offsets(batch),
                    self.consumer.consumer_group_metadata(),
                    self.crash,
                )
            self.crash("kafka")
            self.wh.mark_exported(batch.batch_id)
            stats.exports += 1
            stats.rows += table.num_rows
            stats.recovered_exports += int(recovering)
        return len(batches)

    def commit_landed_offsets(self, partitions: list[int]) -> None:
        """With nothing pending, commit the landed offsets (an offsets-only Kafka transaction).

        Keeps the group's lag honest while records only move the watermark. Safe for the export
        check: the next batch is made after more records land, so its offsets are strictly ahead.
        """
        landed = {p: o for (t, p), o in self.wh.committed_offsets().items() if t == self.topic_in and p in partitions}
        if not landed or landed == self._last_offsets_only:
            return
        from confluent_kafka import TopicPartition

        offsets = [TopicPartition(self.topic_in, p, o) for p, o in sorted(landed.items())]
        self.kafka.publish([], offsets, self.consumer.consumer_group_metadata())
        self._last_offsets_only = landed

    def _offsets(self, batch: Any) -> list[Any]:
        from confluent_kafka import TopicPartition

        return [TopicPartition(self.topic_in, p, o) for p, o in sorted(batch.next_offsets.items())]

    def _kafka_committed(self, batches: list[Any]) -> dict[int, int]:
        partitions = sorted({p for b in batches for p in b.next_offsets})
        from confluent_kafka import TopicPartition

        found = self.consumer.committed([TopicPartition(self.topic_in, p) for p in partitions], TXN_TIMEOUT_S)
        return {tp.partition: tp.offset for tp in found if tp.offset >= 0}

    @staticmethod
    def _already_in_kafka(batch: Any, committed: dict[int, int]) -> bool:
        # Batches are exported in order and each carries offsets >= the previous one's, so the
        # group's committed offsets (written in the same Kafka transaction as the rows) cover a batch
        # exactly when that batch's transaction committed.
        if not committed:
            return False
        return all(committed.get(p, -1) >= o for p, o in batch.next_offsets.items())


# ---------------------------------------------------------------------------------------------
# The consumer loop


def instance_id(group_id: str, warehouse: Path) -> str:
    """Stable per (group, warehouse file): the transactional id and the static group member id.

    A restarted instance fences its own predecessor's producer and takes over its group slot.
    """
    digest = hashlib.sha1(str(Path(warehouse).resolve()).encode()).hexdigest()[:12]
    return f"glue-featurize-{group_id}-{digest}"


class _PhaseClock:
    """Adds the time since the previous lap to `totals[name]` (where a batch spends its time)."""

    def __init__(self, totals: dict[str, float]) -> None:
        self.totals = totals
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.totals[name] = self.totals.get(name, 0.0) + now - self.t
        self.t = now


def publish_snapshot(wh: Any) -> None:
    from glue.warehouse import publish_snapshot as publish

    publish(wh)


class FeaturizeLoop:
    """One consumer-group member: poll -> land -> finalize -> export, with rebalance callbacks."""

    def __init__(self, settings: Settings, job: FeaturizeJob, wh: Any, stop: threading.Event) -> None:
        from confluent_kafka import Consumer

        from glue import kafka

        ks = settings.kafka
        self.settings = settings
        self.job = job
        self.wh = wh
        self.stop = stop
        self.consumer = Consumer(
            kafka.consumer_config(
                ks,
                job.group_id,
                **{
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",
                    "fetch.wait.max.ms": 50,
                    # Static membership: a restarted instance (same group + warehouse) takes its own
                    # partitions back at once instead of waiting for its dead predecessor to time out.
                    "group.instance.id": instance_id(job.group_id, job.warehouse),
                    "session.timeout.ms": 10_000,
                },
            )
        )
        self.kafka_sink = KafkaSink(ks, job.topic_out, instance_id(job.group_id, job.warehouse))
        self.dlq = DeadLetters(ks, ks.topic_dlq)
        self.crash = CrashHook(job.crash_at)
        self.exporter = Exporter(
            wh, ParquetSink(job.parquet_dir), self.kafka_sink, self.consumer, job.topic_in, self.crash
        )
        self.stats = FeaturizeStats()
        self.assigned: list[int] = []
        self._needs_recovery = True
        self._unowned: list[int] = []  # assigned partitions this warehouse holds no offsets for

    # Rebalance callbacks run inside poll(): keep them to seeking and exporting.
    def on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        from confluent_kafka import OFFSET_BEGINNING

        stored = self.wh.committed_offsets()
        for tp in partitions:
            landed = stored.get((tp.topic, tp.partition))
            # DuckDB holds the next offset to land; without one, rebuild this partition's state
            # from the start of the topic so its trailing windows are complete.
            tp.offset = landed if landed is not None else OFFSET_BEGINNING
        # a partition new to this warehouse may have been published by a previous owner: checked in run()
        # (outside the rebalance callback) before any of its records is landed
        self._unowned = sorted(tp.partition for tp in partitions if stored.get((tp.topic, tp.partition)) is None)
        consumer.assign(partitions)
        self.assigned = sorted(tp.partition for tp in partitions)
        self._needs_recovery = True
        log.info("featurize: assigned %s partitions %s (seek to DuckDB offsets %s)", self.job.topic_in,
                 self.assigned, {tp.partition: tp.offset for tp in partitions})

    def on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        # Export what this warehouse finalized while it still owns the partitions.
        try:
            self.exporter.export_pending(self.stats, recovering=True)
        except GlueError as exc:
            log.warning("featurize: export on revoke failed (%s); it is retried on the next assignment", exc)
        log.info("featurize: revoked partitions %s", sorted(tp.partition for tp in partitions))
        consumer.unassign()
        self.assigned = []

    def run(self) -> FeaturizeStats:
        job = self.job
        max_frames = self.settings.features.max_batch_frames
        poll_s = self.settings.features.poll_timeout_s
        self.consumer.subscribe([job.topic_in], on_assign=self.on_assign, on_revoke=self.on_revoke)
        started = last_input = last_progress = time.monotonic()
        window = FeaturizeStats()
        try:
            while not self.stop.is_set():
                msgs = self.consumer.consume(num_messages=max_frames, timeout=poll_s)
                if self._unowned:
                    self.take_over(self._unowned)
                    self._unowned = []
                if self._needs_recovery and self.assigned:
                    self.exporter.export_pending(self.stats, recovering=True)
                    self._needs_recovery = False
                now = time.monotonic()
                if msgs:
                    t0 = time.perf_counter()
                    landed = self.process(msgs, window)
                    if landed:
                        last_input = now
                        cost = time.perf_counter() - t0
                        self.stats.batch_s.append(cost)
                        window.batch_s.append(cost)
                        metrics.featurize_batch(cost, self.stats)
                if now - last_progress >= job.progress_interval_s:
                    window.watermark_ns = self.stats.watermark_ns
                    log.info("%s", window.line(now - last_progress, "featurize: last interval"))
                    window = FeaturizeStats()
                    last_progress = now
                if not self.assigned:
                    last_input = now  # joining the group or rebalancing is not idleness
                if job.until_idle_s and now - last_input >= job.until_idle_s:
                    log.info("featurize: no input for %.1f s, stopping", job.until_idle_s)
                    break
                if job.max_seconds and now - started >= job.max_seconds:
                    log.info("featurize: ran %.0f s, stopping", job.max_seconds)
                    break
        finally:
            self.close()
            self.stats.elapsed_s = time.monotonic() - started
            log.info("%s", self.stats.line(self.stats.elapsed_s))
            log.info("featurize: time per phase %s", {k: round(v, 2) for k, v in self.stats.phase_s.items()})
        return self.stats

    def take_over(self, partitions: list[int]) -> None:
        """For partitions new to this warehouse, record the group's committed offsets (a previous owner's)."""
        from confluent_kafka import KafkaException, TopicPartition

        topic = self.job.topic_in
        try:
            found = self.consumer.committed([TopicPartition(topic, p) for p in partitions], TXN_TIMEOUT_S)
        except KafkaException as exc:
            raise KafkaUnavailable(f"cannot read the group's committed offsets of {topic} ({exc})",
                                   "check the broker, then start glue featurize again") from exc
        for tp in found:
            if tp.offset >= 0 and self.wh.begin_takeover(topic, tp.partition, tp.offset):
                log.info("featurize: partition %s[%d] was published up to offset %d by a previous owner; "
                         "rebuilding its state from the start without sending those rows again",
                         topic, tp.partition, tp.offset)

    def process(self, msgs: list[Any], window: FeaturizeStats) -> int:
        """One micro-batch in the commit order; returns the number of records landed."""
        records, coords = [], []
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.fatal():
                    raise KafkaUnavailable(f"Kafka consumer error: {err}", "check the broker")
                continue  # partition EOF and transient errors carry no record
            try:
                records.append(decode(msg))
            except BadRecord as exc:
                self.dlq.add(msg, str(exc))
                self.stats.dead_letters += 1
                window.dead_letters += 1
                log.warning("featurize: dead-lettered %s[%d]@%d: %s", msg.topic(), msg.partition(), msg.offset(), exc)
                records.append(None)
            key = msg.key()
            coords.append((msg.topic(), msg.partition(), msg.offset(), key.decode("utf-8", "replace") if key else None))
        if not coords:
            return 0
        clock = _PhaseClock(self.stats.phase_s)
        self.dlq.flush()  # dead letters are acknowledged before their offsets are landed
        landed = self.wh.land(records, coords)
        self.crash("landed")
        clock.lap("land")
        self.wh.finalize()
        self.crash("finalized")
        clock.lap("finalize")
        if not self.exporter.export_pending(self.stats):
            self.exporter.commit_landed_offsets(self.assigned)
        clock.lap("export")
        publish_snapshot(self.wh)  # Parquet parts for `glue sql` while this process holds the file
        clock.lap("snapshot")
        self.stats.watermark_ns = self.wh.watermark_ns() or 0
        self.stats.book_breaks = sum(self.wh.book_breaks.values())
        self.stats.late += landed.late
        window.late += landed.late
        n = sum(r is not None for r in records)
        self.stats.frames += n
        self.stats.batches += 1
        window.frames += n
        window.batches += 1
        return len(coords)

    def close(self) -> None:
        try:
            self.dlq.flush()
        finally:
            self.kafka_sink.close()
            self.consumer.close()  # static member: its partitions wait session.timeout.ms for a restart


def run_featurize(settings: Settings, job: FeaturizeJob, stop: threading.Event | None = None) -> FeaturizeStats:
    """Run `glue featurize` until stopped (signal, `stop`, `max_seconds`, `until_idle_s`)."""
    from glue import kafka
    from glue.warehouse import Warehouse

    ks = settings.kafka
    try:
        kafka.wait_until_ready(ks.bootstrap_servers, 15.0)
        kafka.ensure_topics(
            ks, {job.topic_in: ks.partitions_raw, job.topic_out: ks.partitions_features, ks.topic_dlq: 1}
        )
    except GlueError:
        raise
    except Exception as exc:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {ks.bootstrap_servers} ({exc})", "start it: glue broker up"
        ) from exc
    stop = stop or threading.Event()
    metrics.serve(settings.metrics.featurize_port, settings.metrics.host, "featurize")
    log.info("featurize: %s -> %s, warehouse %s, parquet %s/, group %s", job.topic_in, job.topic_out,
             job.warehouse, job.parquet_dir, job.group_id)
    import duckdb
    from confluent_kafka import KafkaException

    wh = Warehouse.open(str(job.warehouse), settings.features)
    try:
        loop = FeaturizeLoop(settings, job, wh, stop)
        with stop_on_signals(stop, "featurize"):
            return loop.run()
    except KafkaException as exc:
        # Nothing is lost: DuckDB holds the offsets and the pending export; a restart continues.
        err = exc.args[0] if exc.args else exc
        raise KafkaUnavailable(
            f"Kafka failed during featurize ({getattr(err, 'str', lambda: str(err))()})",
            "check the broker, then restart glue featurize: it resumes from the warehouse without loss",
        ) from exc
    except duckdb.Error as exc:
        raise WarehouseError(
            f"the warehouse failed during featurize ({str(exc).splitlines()[0]})",
            "landed data and offsets up to the last commit are safe; fix the cause and restart",
        ) from exc
    finally:
        wh.close()
