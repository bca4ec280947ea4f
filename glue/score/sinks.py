"""The predictions sink of `glue score` (`glue.sinks` protocol; the commit order is in glue.sinks).

`PredictionSink` produces one prediction per scored row to `ticks.predictions` (key = product) and times each
from the row's arrival in this process to the broker's acknowledgement. Kept = acknowledged: `flush` waits for
every acknowledgement of the batch and raises if one is missing, so the loop commits offsets only after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glue.errors import KafkaUnavailable

if TYPE_CHECKING:
    from glue.config import KafkaSettings

# Why small: a prediction is useful only while fresh; we flush per batch anyway, so linger only
# adds delay to the first message of a batch.
SCORE_LINGER_MS = 1
FLUSH_TIMEOUT_S = 30.0


class _Acks:
    """Delivery reports for one batch: the broker's acknowledgement time per message, or the error."""

    def __init__(self) -> None:
        self.acked_ns: list[int] = []
        self.arrived_ns: list[int] = []
        self.errors: list[str] = []

    def callback(self, arrived_ns: int) -> Callable[[Any, Any], None]:
        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                self.errors.append(str(err))
            else:
                self.acked_ns.append(time.perf_counter_ns())
                self.arrived_ns.append(arrived_ns)

        return on_delivery


class PredictionSink:
    """At-least-once producer of predictions; `flush` returns the batch's arrival-to-ack latencies (ms)."""

    def __init__(self, kafka_settings: KafkaSettings, topic: str) -> None:
        from confluent_kafka import Producer

        from glue import kafka

        self.topic = topic
        self.producer = Producer(kafka.producer_config(kafka_settings, **{"linger.ms": SCORE_LINGER_MS}))
        self._acks = _Acks()

    def add(self, key: bytes, value: bytes, arrived_ns: int) -> None:
        """One prediction; `arrived_ns` (perf_counter_ns) is when its row arrived, for the latency."""
        self.producer.produce(self.topic, key=key, value=value, on_delivery=self._acks.callback(arrived_ns))

    def flush(self) -> list[float]:
        """Wait for every acknowledgement of the predictions added since the last flush, or raise."""
        acks, self._acks = self._acks, _Acks()
        remaining = self.producer.flush(FLUSH_TIMEOUT_S)
        if remaining or acks.errors:
            raise KafkaUnavailable(
                f"predictions not acknowledged ({remaining} pending, errors: {acks.errors[:1]})",
                "check the broker; offsets were not committed, so a restart re-scores these rows",
            )
        return [(a - r) / 1e6 for a, r in zip(acks.acked_ns, acks.arrived_ns, strict=True)]

    def close(self) -> None:
        self.producer.flush(10)
