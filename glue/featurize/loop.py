"""The consumer loop of `glue featurize`: poll -> land -> finalize -> export, with rebalance callbacks.

One consumer-group member per process. The commit order of a micro-batch is documented once, in glue.sinks;
`FeaturizeLoop.process` follows it. On start and on every partition assignment the consumer seeks to the
offsets stored in DuckDB (not Kafka's committed ones, which trail them), then re-exports pending batches.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from glue import metrics
from glue.config import Settings
from glue.errors import GlueError, KafkaUnavailable, WarehouseError
from glue.featurize.crash import CrashHook
from glue.featurize.decode import BadRecord, decode
from glue.featurize.export import Exporter
from glue.featurize.job import FeaturizeJob, FeaturizeStats
from glue.featurize.sinks import TXN_TIMEOUT_S, ParquetPartSink, TransactionalKafkaSink
from glue.signals import stop_on_signals
from glue.sinks import DeadLetterSink

log = logging.getLogger("glue.featurize")


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
        self.kafka_sink = TransactionalKafkaSink(ks, job.topic_out, instance_id(job.group_id, job.warehouse))
        self.dlq = DeadLetterSink(ks, ks.topic_dlq)
        self.crash = CrashHook(job.crash_at)
        self.exporter = Exporter(
            wh, ParquetPartSink(job.parquet_dir), self.kafka_sink, self.consumer, job.topic_in, self.crash
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
        """One micro-batch in the commit order (glue.sinks); returns the number of records landed.

        The one place where a batch is done: its counters are updated at the end.
        """
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
            self.dlq.close()
        finally:
            self.kafka_sink.close()
            self.consumer.close()  # static member: its partitions wait session.timeout.ms for a restart


def run_featurize(settings: Settings, job: FeaturizeJob, stop: threading.Event | None = None) -> FeaturizeStats:
    """Run `glue featurize` until stopped (signal, `stop`, `max_seconds`, `until_idle_s`)."""
    from glue import kafka
    from glue.warehouse import Warehouse

    ks = settings.kafka
    kafka.connect(ks, {job.topic_in: ks.partitions_raw, job.topic_out: ks.partitions_features, ks.topic_dlq: 1})
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
