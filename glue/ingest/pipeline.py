"""Archive first, then produce: the ordering that makes ingest at-least-once (glue.sinks, "ingest").

Every record is written to the archive buffer when it is added; `flush()` hands the archive lines
to the OS *before* the same records are given to Kafka, so any message Kafka acknowledges is
already in the archive, even if the process dies right after. Records are batched (up to
`batch_size`, or until the ingest loop's next tick) so the archive costs one write per batch.
"""

from __future__ import annotations

from glue.archive import ArchiveWriter
from glue.ingest.sink import IdempotentKafkaSink
from glue.records import (
    FORMAT_VERSION,
    HEADER_CONN,
    HEADER_ISEQ,
    HEADER_KIND,
    HEADER_RECV_NS,
    HEADER_SEQ,
    HEADER_VERSION,
    Record,
)

_VERSION_HEADER = (HEADER_VERSION, str(FORMAT_VERSION).encode())
_KIND_HEADERS: dict[str, tuple[str, bytes]] = {}
_CONN_HEADERS: dict[str, tuple[str, bytes]] = {}


def kafka_headers(record: Record, seq: int | None) -> list[tuple[str, bytes]]:
    """`record.kafka_headers(seq)`, equal element for element, with the constant parts cached."""
    kind = _KIND_HEADERS.get(record.kind)
    if kind is None:
        kind = _KIND_HEADERS[record.kind] = (HEADER_KIND, record.kind.encode())
    conn = _CONN_HEADERS.get(record.conn)
    if conn is None:
        if len(_CONN_HEADERS) > 10_000:
            _CONN_HEADERS.clear()
        conn = _CONN_HEADERS[record.conn] = (HEADER_CONN, record.conn.encode())
    return [
        _VERSION_HEADER,
        kind,
        (HEADER_RECV_NS, str(record.recv_ns).encode()),
        conn,
        (HEADER_ISEQ, str(record.iseq).encode()),
        (HEADER_SEQ, b"" if seq is None else str(seq).encode()),
    ]


class Pipeline:
    """The ingest loop's two sinks in their order: `add` archives and queues, `flush` is where a batch is done."""

    def __init__(self, archive: ArchiveWriter, sink: IdempotentKafkaSink | None, batch_size: int = 1000) -> None:
        self.archive = archive
        self.sink = sink
        self.batch_size = batch_size
        self.records = 0
        self._pending: list[tuple[Record, list[str], int | None, int]] = []

    def add(self, record: Record, keys: list[str], seq: int | None, recv_mono_ns: int) -> None:
        """Archive (buffered) and queue for Kafka; flushes when the batch is full."""
        self.archive.add(record)
        self.records += 1
        if self.sink is not None:
            self._pending.append((record, keys, seq, recv_mono_ns))
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """The archive to the OS first, then the batch to Kafka: Kafka never has a record the archive lacks."""
        self.archive.flush()
        if self.sink is None or not self._pending:
            return
        pending, self._pending = self._pending, []
        add = self.sink.add
        for record, keys, seq, t0 in pending:
            value = record.frame.encode("utf-8") if record.frame is not None else record.kafka_value()
            add(keys, value, kafka_headers(record, seq), t0)
