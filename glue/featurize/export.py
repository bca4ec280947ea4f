"""Export: pending export batches from DuckDB to Parquet and Kafka, then marked exported (steps 4-6 of the
commit order in glue.sinks), and the recovery check that tells whether Kafka already has a pending batch.

The export watermark lives in DuckDB (`Warehouse.pending_exports` / `mark_exported` / `export_floors`); the
group's committed offsets, written in the same Kafka transaction as a batch's rows, say which batches Kafka has.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from glue.featurize.crash import CrashHook
from glue.featurize.job import FeaturizeStats
from glue.featurize.rows import feature_messages, without_published
from glue.featurize.sinks import TXN_TIMEOUT_S, ParquetPartSink, TransactionalKafkaSink

log = logging.getLogger("glue.featurize")


def part_name(batch: Any) -> str:
    """Deterministic part file name of an export batch (fixed when the batch is recorded)."""
    return f"part-{batch.first_partition:03d}-{batch.first_offset:012d}.parquet"


@dataclass
class Exporter:
    """Moves pending export batches from DuckDB to Parquet and Kafka, then marks them exported."""

    wh: Any
    parquet: ParquetPartSink
    kafka: TransactionalKafkaSink
    consumer: Any
    topic_in: str
    crash: CrashHook
    _last_offsets_only: dict[int, int] = field(default_factory=dict, init=False)

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
            self.parquet.add(part_name(batch), table)
            self.parquet.flush()
            self.crash("parquet")
            if self._already_in_kafka(batch, in_kafka):
                stats.skipped_in_kafka += 1
                log.info("featurize: export batch %s already in Kafka; marking it exported", batch.batch_id)
            else:
                for key, value in feature_messages(table, time.time_ns()):
                    self.kafka.add(key, value)
                self.kafka.add_offsets(self._offsets(batch), self.consumer.consumer_group_metadata())
                self.kafka.flush(self.crash)
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
        self.kafka.add_offsets(offsets, self.consumer.consumer_group_metadata())
        self.kafka.flush()
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
