"""The view's own Kafka reader: the three topics into a `ViewState`, never touching a service's group.

It assigns partitions itself (`assign`, no group membership, no commits: `enable.auto.commit` off and a
`glue-view-<random>` group id that librdkafka needs but nothing joins), starting at the offsets of
`history_s` ago (`offsets_for_times`) so a fresh page shows the recent past. Topics and partitions
that appear later (the page may start before the services) are picked up every few seconds.
Runs in one daemon thread; the state is guarded by the lock the server shares.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from glue.config import Settings
from glue.view.state import ViewState

log = logging.getLogger("glue.view")

DISCOVER_EVERY_S = 3.0
PRUNE_EVERY_S = 5.0


class TopicReader:
    """Consumes ticks.raw, ticks.features and ticks.predictions into `state` until `stop` is set."""

    def __init__(self, settings: Settings, state: ViewState, lock: threading.Lock, stop: threading.Event) -> None:
        self.settings = settings
        self.state = state
        self.lock = lock
        self.stop = stop
        ks = settings.kafka
        self.names = {ks.topic_raw: "raw", ks.topic_features: "features", ks.topic_predictions: "predictions"}
        self.assigned: set[tuple[str, int]] = set()
        self.error: str = ""  # the last broker problem, shown on the page
        self.thread = threading.Thread(target=self._run, name="glue-view-reader", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        from confluent_kafka import Consumer, KafkaException

        from glue import kafka

        conf = kafka.consumer_config(
            self.settings.kafka, f"glue-view-{uuid.uuid4().hex[:12]}",
            **{"enable.auto.commit": False, "enable.auto.offset.store": False, "auto.offset.reset": "latest",
               "fetch.wait.max.ms": 50},
        )
        consumer = Consumer(conf)
        last_discover = last_prune = 0.0
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                if now - last_discover >= DISCOVER_EVERY_S:
                    last_discover = now
                    try:
                        self._discover(consumer)
                        self.error = ""
                    except KafkaException as exc:
                        self.error = f"Kafka: {exc.args[0] if exc.args else exc}"
                        log.warning("view: %s (retrying)", self.error)
                if not self.assigned:
                    self.stop.wait(0.5)
                    continue
                msgs = consumer.consume(num_messages=2000, timeout=0.1)
                if msgs:
                    self._apply(msgs)
                if now - last_prune >= PRUNE_EVERY_S:
                    last_prune = now
                    with self.lock:
                        self.state.prune()
        finally:
            consumer.close()

    def _apply(self, msgs: list[Any]) -> None:
        now_ns = time.time_ns()
        with self.lock:
            for msg in msgs:
                if msg.error() is not None:
                    continue  # transient errors and EOFs carry no record; fatal ones resurface in discover
                name = self.names.get(msg.topic())
                if name is None:
                    continue
                _ts_type, ts_ms = msg.timestamp()
                self.state.add(name, msg.key(), msg.value(), msg.headers(), ts_ms if ts_ms > 0 else now_ns // 10**6,
                               now_ns)

    def _discover(self, consumer: Any) -> None:
        """Assign partitions not assigned yet, each at the first offset of `history_s` ago (or its end)."""
        from confluent_kafka import OFFSET_END, TopicPartition

        meta = consumer.list_topics(timeout=5)
        new = []
        for topic in self.names:
            t = meta.topics.get(topic)
            if t is None or t.error is not None:
                continue
            new += [(topic, p) for p in t.partitions if (topic, p) not in self.assigned]
        if not new:
            return
        since_ms = int((time.time() - self.settings.view.history_s) * 1000)
        wanted = [TopicPartition(topic, p, since_ms) for topic, p in new]
        found = consumer.offsets_for_times(wanted, timeout=10)
        start = [TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END) for tp in found]
        consumer.incremental_assign(start)
        self.assigned.update(new)
        log.info("view: reading %d partition(s) of %s from %.0f s ago", len(new),
                 ", ".join(sorted({t for t, _ in new})), self.settings.view.history_s)
