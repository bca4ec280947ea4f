"""The sink protocol of the stream loops (ingest, featurize, score) and the commit order they keep.

A sink is where a loop's output goes. Every sink has three methods:

* `add(...)`: take one item (its arguments are the sink's own: a record, a message, a part file). A sink
  may buffer; it never drops an item silently: one it cannot take now is kept (spool, buffer) or raises.
* `flush()`: make everything added so far reach where the sink keeps it (the OS, the broker's
  acknowledgement, a committed Kafka transaction), or raise. What "kept" means is the sink's docstring.
* `close()`: flush what can still be flushed and release the sink's resources.

The commit order (the one rule, after quixstreams' checkpoints and bytewax's sinks): **a loop moves its
input position forward only after every sink holding output of that input has flushed.** A crash between the
two re-reads the input and adds it again, so delivery is at least once; a sink that is idempotent (the same
name, the same bytes) or transactional (rows and offsets in one transaction) makes it exactly once.
Each loop has one place where a batch is done (`Pipeline.flush`, `FeaturizeLoop.process`,
`ScoreLoop.process`), which is where it counts and logs the batch.

Per loop:

* **ingest** (`glue.ingest.pipeline.Pipeline`: the archive, then Kafka). A WebSocket has no position to
  commit, so the order is between the sinks: `ArchiveWriter.flush()` hands a batch to the OS *before* the same
  records are added to `IdempotentKafkaSink`, so anything Kafka acknowledges is in the archive.
  `IdempotentKafkaSink` (acks=all, idempotent, never times out) keeps what the broker has not acknowledged in
  its producer or its disk spool; its `flush()` serves delivery reports and re-sends spooled messages.
* **featurize** (`glue.featurize.loop.FeaturizeLoop.process`, per micro-batch; DuckDB is the source of truth):
  1. poll; undecodable records are added to `DeadLetterSink`, which is flushed (acknowledged) before step 2;
  2. land: the records *and their Kafka offsets* in one DuckDB transaction (the input position, stored);
  3. finalize: the seconds that became final, with the export watermark, in one DuckDB transaction
     (an *export batch*, pending until step 6);
  4. `ParquetPartSink`: the batch's part file (fixed name, temp file + rename; `flush` fsyncs the directory);
  5. `TransactionalKafkaSink`: the batch's rows and the consumer-group offsets of the batch in one Kafka
     transaction, committed by `flush()`;
  6. mark the batch exported in DuckDB. A batch that finalized nothing commits its landed offsets in an
     offsets-only transaction instead.
* **score** (`glue.score.loop.ScoreLoop.process`, per poll batch): dead letters to `DeadLetterSink` and
  predictions to `PredictionSink`; both flushed (acknowledged by the broker), then the consumed offsets are
  committed: at least once, nothing consumed is lost.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from glue.errors import KafkaUnavailable

if TYPE_CHECKING:
    from glue.config import KafkaSettings

log = logging.getLogger("glue.sinks")

FLUSH_TIMEOUT_S = 30.0


@runtime_checkable
class Sink(Protocol):
    """add / flush / close; see the module docstring for what each promises and the commit order."""

    def add(self, *args: Any, **kwargs: Any) -> object: ...

    def flush(self) -> object: ...

    def close(self) -> object: ...


class DeadLetterSink:
    """Records a loop could not use, to `ticks.dlq` through `glue.kafka.DeadLetter`, with their reason.

    Kept = acknowledged by the broker: `flush()` raises `KafkaUnavailable` if any dead letter was not, so a
    loop that flushes it before committing its input never loses one (at least once: a crash between the flush
    and the commit sends the same dead letters again). Pass `producer` to share a loop's producer.
    """

    def __init__(self, kafka_settings: KafkaSettings, topic: str, producer: Any = None) -> None:
        from glue import kafka

        if producer is None:
            from confluent_kafka import Producer

            producer = Producer(kafka.producer_config(kafka_settings, **{"linger.ms": 1}))
        self.producer = producer
        self.acks = kafka.DeliveryCounter()
        self.letters = kafka.DeadLetter(self.producer, topic, on_delivery=self.acks)
        self.pending = 0

    def add(self, msg: Any, reason: str, detail: dict[str, Any] | None = None) -> None:
        """Dead-letter one consumed Kafka message (its topic, partition, offset and value) with `reason`."""
        self.pending += 1
        self.letters.send(reason, source_topic=msg.topic(), value=msg.value(), partition=msg.partition(),
                          offset=msg.offset(), detail=detail)

    def flush(self) -> None:
        if self.pending:
            left = self.producer.flush(FLUSH_TIMEOUT_S)
            if left or self.acks.failed:
                raise KafkaUnavailable(
                    f"dead letters not acknowledged ({list(self.acks.errors)[:1] or left})", "check the broker"
                )
            self.pending = 0

    def close(self) -> None:
        self.flush()
