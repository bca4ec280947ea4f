"""Archive first, then produce: the ordering that makes ingest at-least-once.

Every record is written to the archive buffer when it is added; `flush()` hands the archive lines
to the OS *before* the same records are given to Kafka, so any message Kafka acknowledges is
already in the archive, even if the process dies right after. Records are batched (up to
`batch_size`, or until the ingest loop's next tick) so the archive costs one write per batch.
"""

from __future__ import annotations

from glue.archive import ArchiveWriter
from glue.ingest.sink import KafkaSink
from glue.records import Record


class Pipeline:
    def __init__(self, archive: ArchiveWriter, sink: KafkaSink | None, batch_size: int = 1000) -> None:
        self.archive = archive
        self.sink = sink
        self.batch_size = batch_size
        self.records = 0
        self._pending: list[tuple[Record, list[str], int | None, int]] = []

    def add(self, record: Record, keys: list[str], seq: int | None, recv_mono_ns: int) -> None:
        """Archive (buffered) and queue for Kafka; flushes when the batch is full."""
        self.archive.write(record)
        self.records += 1
        if self.sink is not None:
            self._pending.append((record, keys, seq, recv_mono_ns))
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        self.archive.flush()
        if self.sink is None or not self._pending:
            return
        pending, self._pending = self._pending, []
        send = self.sink.send
        for record, keys, seq, t0 in pending:
            send(keys, record.kafka_value(), record.kafka_headers(seq), t0)
