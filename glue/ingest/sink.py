"""`IdempotentKafkaSink`, the Kafka sink of ingest: produce records to `ticks.raw`, never dropping one.

A `glue.sinks.Sink` (add / flush / close; the commit order is in glue.sinks): `add` produces one record under
each of its keys, `flush` serves delivery reports and re-sends spooled messages (it never blocks), `close`
flushes for a while and spools what the broker has not acknowledged.

* Idempotent producer (`acks=all`, compression, murmur2) from `glue.kafka.producer_config`, with
  `message.timeout.ms=0` (never time out): while the broker is down librdkafka keeps retrying in
  order, and idempotence keeps those retries free of duplicates.
* Memory is bounded: when more than `high_water` messages are in flight (or `produce` keeps raising
  `BufferError`), new messages go to the disk spool instead; while the spool holds anything, new
  messages are appended behind it, so per-key order is kept. `service()` drains the spool back into
  the producer whenever fewer than `low_water` messages are in flight.
* A delivery that fails anyway (purged at shutdown, fatal producer error, a broker-side rejection)
  goes back to the spool with an attempt count; after `max_attempts` non-retriable failures the
  message is written to `<spool_dir>/dead-<run-id>.ndjson` and counted (it is in the archive too).
* Counts produced / acknowledged / spooled / failed messages and samples receipt-to-acknowledged
  latency (monotonic clock).
"""

from __future__ import annotations

import json
import logging
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException

from glue.config import KafkaSettings
from glue.ingest.kafka_health import BrokerHealth, QuietLibrdkafkaLog
from glue.ingest.spool import Spool, SpooledMessage

log = logging.getLogger("glue.ingest.kafka")

LATENCY_SAMPLES_MAX = 2_000_000


def producer_config(kafka: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """The durable producer config for ticks.raw: glue.kafka's, with ingest's own overrides."""
    from glue.kafka import producer_config as base_config

    return base_config(kafka, **overrides)


class IdempotentKafkaSink:
    """Produces records' Kafka messages (acks=all, idempotent); spills to a disk spool instead of blocking or dropping.

    Kept = acknowledged by the broker, or in the producer's queue or the spool (which survives a restart).
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        spool: Spool,
        *,
        high_water: int = 50_000,
        low_water: int = 10_000,
        max_attempts: int = 5,
        producer_factory: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.kafka = kafka
        self.topic = kafka.topic_raw
        self.spool = spool
        self.high_water = high_water
        self.low_water = min(low_water, high_water)
        self.max_attempts = max_attempts
        self.produced = 0  # messages handed to the producer (incl. re-sends from the spool)
        self.acked = 0
        self.failed_deliveries = 0  # delivery reports with an error (the message was re-spooled)
        self.dead = 0  # gave up after max_attempts (kept in the dead file and the archive)
        self.latencies_us = array("q")
        self._key_bytes: dict[str, bytes] = {}
        self._dead_path = spool.dir / f"dead-{spool.run_id}.ndjson"
        self._fatal = False
        self.health = BrokerHealth(kafka.bootstrap_servers)  # outage and auth lines (glue.ingest.kafka_health)
        self._factory = producer_factory or _confluent_producer
        self._config = producer_config(
            kafka,
            **{
                "message.timeout.ms": 0,  # never give up on a message ourselves: the broker comes back
                # ingest creates ticks.raw itself (retrying while the broker is away): until it exists, queue
                # instead of failing messages as "unknown topic" (dead-lettered at produce, or re-spooled
                # out of order from a delivery report) when a slow broker start outlasts the 30 s default
                "topic.metadata.propagation.max.ms": 600_000,
                "queue.buffering.max.messages": max(high_water * 2, 100_000),
                "error_cb": self._on_error,
                "logger": QuietLibrdkafkaLog(),  # per-attempt lines at DEBUG; BrokerHealth says what matters
            },
        )
        self.producer = self._factory(self._config)

    # -- producing -------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self.producer)

    @property
    def spooling(self) -> bool:
        return self.spool.pending > 0 or len(self.producer) >= self.high_water

    def add(self, keys: list[str], value: bytes, headers: list[tuple[str, bytes]], recv_mono_ns: int) -> None:
        """Produce one record under each of its keys (or spool it, keeping order)."""
        spooling = self.spooling
        for key in keys:
            kb = self._key_bytes.get(key)
            if kb is None:
                kb = self._key_bytes[key] = key.encode("utf-8")
            if spooling or not self._produce(kb, value, headers, recv_mono_ns, 0):
                spooling = True
                self.spool.append(SpooledMessage(kb, value, headers))

    def _produce(self, key: bytes, value: bytes, headers: list[tuple[str, bytes]], t0: int | None,
                 attempt: int) -> bool:
        def on_delivery(err: Any, msg: Any) -> None:
            # key/value/headers come from this closure: delivery reports do not carry the headers
            self._on_delivery(err, key, value, headers, t0, attempt)

        for _ in range(3):
            try:
                self.producer.produce(self.topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                self.produced += 1
                return True
            except BufferError:
                # Local queue full: serve delivery reports to make room, then retry (never queued,
                # so a retry cannot duplicate). After a few tries the caller spools instead.
                self.producer.poll(0.05)
            except KafkaException as exc:
                # Refused locally for good (e.g. larger than kafka.max_message_bytes): retrying cannot
                # help. Kept in the dead-letter file and counted; the archive has the frame too.
                self._write_dead(SpooledMessage(key, value, headers, self.max_attempts), exc.args[0] if exc.args
                                 else exc)
                return True
        return False

    def _on_delivery(self, err: Any, key: bytes, value: bytes, headers: list[tuple[str, bytes]], t0: int | None,
                     attempt: int) -> None:
        if err is None:
            self.acked += 1
            if self.health.away:
                self.health.on_ack()
            if t0 is not None and len(self.latencies_us) < LATENCY_SAMPLES_MAX:
                self.latencies_us.append((time.perf_counter_ns() - t0) // 1000)
            return
        self.failed_deliveries += 1
        # Only non-transient errors count as attempts, so a broker outage never dead-letters.
        attempts = attempt + (0 if _is_transient(err) else 1)
        message = SpooledMessage(key, value, headers, attempts)
        if attempts >= self.max_attempts:
            self._write_dead(message, err)
            return
        if self.failed_deliveries <= 10 or self.failed_deliveries % 1000 == 0:
            log.warning("kafka: delivery failed (%s); message spooled for re-send", err)
        self.spool.append(message)

    def _write_dead(self, message: SpooledMessage, err: Any) -> None:
        self.dead += 1
        log.error("kafka: giving up on a message (%s); kept in %s (and in the archive)", err, self._dead_path)
        self._dead_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._dead_path, "ab") as fh:
            line = json.loads(message.to_line())
            line["error"] = str(err)
            fh.write(json.dumps(line, separators=(",", ":")).encode("ascii") + b"\n")

    def _on_error(self, err: Any) -> None:
        # Client-level errors (all brokers down, ...) are transient: librdkafka retries by itself.
        if getattr(err, "fatal", lambda: False)():
            self._fatal = True
            log.error("kafka: fatal producer error %s; the producer is recreated", err)
        else:
            self.health.on_error(err)

    @property
    def auth_error(self) -> str:
        """Set when the brokers refused the client's credentials (retrying cannot help)."""
        return self.health.auth_error

    # -- flushing --------------------------------------------------------------------------------

    def flush(self, max_drain: int = 5000) -> None:
        """Serve delivery reports, recover from fatal errors, and re-send spooled messages (never blocks)."""
        self.producer.poll(0)
        self.health.tick(len(self.producer), self.spool.pending)
        if self._fatal:
            self._recreate_producer()
        drained = 0
        while self.spool.pending and drained < max_drain and len(self.producer) < self.low_water:
            message = self.spool.pop()
            if message is None:
                break
            if not self._produce(message.key, message.value, message.headers, None, message.attempts):
                # Still full: put it back at the tail would break order; keep it at the head instead.
                self._requeue_head(message)
                break
            drained += 1
        if drained:
            self.producer.poll(0)

    def _requeue_head(self, message: SpooledMessage) -> None:
        # Rare (BufferError right after draining): spool it again; order within its key can slip
        # by this one message only, and it is counted in failed_deliveries.
        self.failed_deliveries += 1
        self.spool.append(message)

    def _recreate_producer(self) -> None:
        old = self.producer
        old.purge(in_queue=True, in_flight=True)
        old.poll(0)  # purged messages come back through _on_delivery with an error: spooled
        old.flush(0)
        self.producer = self._factory(self._config)
        self._fatal = False

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush for up to timeout_s; messages still not acknowledged are spooled. Returns that count."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.flush()
            if not self.spool.pending and len(self.producer) == 0:
                break
            self.producer.flush(min(0.5, max(0.0, deadline - time.monotonic())))
        remaining = len(self.producer)
        if remaining:
            log.warning("kafka: %d message(s) not acknowledged at shutdown; spooled for the next run", remaining)
            self.producer.purge(in_queue=True, in_flight=True)
            self.producer.flush(0)
            self.producer.poll(0)
        self.spool.close()
        return remaining

    def latency_percentiles_ms(self) -> dict[str, float | None]:
        if not self.latencies_us:
            return {"p50": None, "p99": None}
        ordered = sorted(self.latencies_us)

        def pick(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0

        return {"p50": pick(0.50), "p99": pick(0.99)}


def _is_transient(err: Any) -> bool:
    from confluent_kafka import KafkaError

    code = err.code() if hasattr(err, "code") else None
    if code in (KafkaError._MSG_TIMED_OUT, KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT,
                KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
        return True
    retriable = getattr(err, "retriable", None)
    return bool(retriable()) if callable(retriable) else False


def _confluent_producer(config: dict[str, Any]) -> Any:
    from confluent_kafka import Producer

    return Producer(config)


def dead_letter_path(spool_dir: str | Path, run_id: str) -> Path:
    return Path(spool_dir) / f"dead-{run_id}.ndjson"
