"""The sinks of featurize (`glue.sinks` protocol; the commit order is in glue.sinks): Parquet part files and
the transactional Kafka producer of `ticks.features`. Dead letters go to the shared `glue.sinks.DeadLetterSink`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glue.parquet import write_parquet

if TYPE_CHECKING:
    from glue.config import KafkaSettings
    from glue.featurize.crash import CrashHook

TXN_TIMEOUT_S = 30.0


class ParquetPartSink:
    """Part files in one directory, each written whole (temp file, fsync, rename); `flush` fsyncs the directory.

    A reader globbing `*.parquet` sees complete files only. Writing the same batch twice writes
    the same name with the same bytes, which makes re-export after a crash idempotent.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, table: Any) -> Path:
        """Write one part file under its final name (kept once `flush` has synced the directory)."""
        final = self.directory / name
        tmp = self.directory / f".{name}.tmp"
        write_parquet(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        return final

    def flush(self) -> None:
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        self.flush()


class TransactionalKafkaSink:
    """A transactional producer: one Kafka transaction per export batch, holding its rows and the group's offsets.

    `add` produces a row inside the open transaction (opened by the first `add` or `add_offsets`),
    `add_offsets` puts the consumer group's offsets in it, `flush` commits both together (or aborts and
    raises): Kafka has the rows exactly when the group's committed offsets cover their input.
    """

    def __init__(self, kafka_settings: KafkaSettings, topic: str, transactional_id: str) -> None:
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
        self._open = False
        self._offsets: tuple[list[Any], Any] | None = None

    def add(self, key: bytes, value: bytes) -> None:
        """One row (key = product) in the open transaction."""
        from confluent_kafka import KafkaException

        self._begin()
        try:
            self._produce(key, value)
        except KafkaException:
            self._abort()
            raise

    def add_offsets(self, offsets: list[Any], group_metadata: Any) -> None:
        """The consumer-group offsets this transaction commits together with its rows."""
        self._begin()
        self._offsets = (offsets, group_metadata)

    def flush(self, crash: CrashHook | None = None) -> None:
        """Commit the open transaction: its rows and offsets become visible together or not at all."""
        from confluent_kafka import KafkaException

        if not self._open:
            return
        try:
            if crash is not None and crash.point == "produced":
                self.producer.flush(TXN_TIMEOUT_S)  # the rows are on the broker, uncommitted
                crash("produced")
            if self._offsets is not None:
                self.producer.send_offsets_to_transaction(*self._offsets, TXN_TIMEOUT_S)
            self.producer.commit_transaction(TXN_TIMEOUT_S)
        except KafkaException:
            self._abort()
            raise
        self._open, self._offsets = False, None

    def _begin(self) -> None:
        if not self._open:
            self.producer.begin_transaction()
            self._open = True

    def _abort(self) -> None:
        self._open, self._offsets = False, None
        self.producer.abort_transaction(TXN_TIMEOUT_S)

    def _produce(self, key: bytes, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(self.topic, key=key, value=value)
                return
            except BufferError:  # local queue full: let deliveries drain, then retry
                self.producer.poll(0.05)

    def close(self) -> None:
        self.producer.flush(10)
