"""The consumer loop of `glue score`: poll -> check -> score -> produce -> acknowledged -> commit.

`ScoreLoop` is a consumer-group member on `ticks.features` (contracts section 5), shaped like featurize's
loop: one `process` per poll batch, in the commit order documented in glue.sinks. Rows that cannot be scored
go to `ticks.dlq` with a reason and are counted; a row whose `sql_version` differs from the model's stops the
loop with a `ModelError` (a model must never score features it was not trained on).
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from glue import metrics
from glue.config import Settings
from glue.errors import KafkaUnavailable
from glue.score.job import ScoreJob, ScoreSummary
from glue.score.model import ModelInfo, default_model_source, load_model, model_info
from glue.score.rows import BadRow, decode_row, prediction_message, score_rows
from glue.score.sinks import PredictionSink
from glue.signals import stop_on_signals
from glue.sinks import DeadLetterSink

log = logging.getLogger("glue.score")

MAX_BATCH = 1000
MAX_LATENCY_SAMPLES = 200_000


class ScoreLoop:
    """One consumer-group member: poll -> score -> predictions acknowledged -> offsets committed."""

    def __init__(self, settings: Settings, job: ScoreJob, scorer: Any, info: ModelInfo, stop: threading.Event,
                 on_prediction: Callable[[dict[str, Any]], None] | None = None) -> None:
        from confluent_kafka import Consumer

        from glue import kafka

        ks = settings.kafka
        self.settings = settings
        self.job = job
        self.scorer = scorer
        self.info = info
        self.stop = stop
        self.on_prediction = on_prediction
        self.group = job.group_id or settings.model.score_group_id
        self.consumer = Consumer(
            kafka.consumer_config(
                ks, self.group,
                **{"enable.auto.commit": False, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10},
            )
        )
        self.predictions = PredictionSink(ks, ks.topic_predictions)
        # Dead letters share the predictions' producer: one flush acknowledges both.
        self.dlq = DeadLetterSink(ks, ks.topic_dlq, producer=self.predictions.producer)
        self.summary = self._new_summary()
        self.acked_offsets: dict[tuple[str, int], int] = {}
        self.assigned_at: float | None = None

    def _new_summary(self) -> ScoreSummary:
        return ScoreSummary(model_version=self.info.model_version, sql_version=self.info.sql_version)

    def on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        # The idle clock starts once partitions are ours: a slow group join is not "no input".
        if self.assigned_at is None:
            self.assigned_at = time.monotonic()
        log.info("score: assigned %s partitions %s", self.settings.kafka.topic_features,
                 sorted(p.partition for p in partitions))

    def run(self) -> ScoreSummary:
        job = self.job
        started = last_input = last_progress = time.monotonic()
        window = self._new_summary()
        try:
            self.consumer.subscribe([self.settings.kafka.topic_features], on_assign=self.on_assign)
            while not self.stop.is_set():
                msgs = self.poll_batch()
                arrived_ns = time.perf_counter_ns()
                now = time.monotonic()
                if msgs:
                    last_input = now
                    self.process(msgs, arrived_ns, window)
                if now - last_progress >= job.progress_interval_s:
                    window.elapsed_s = now - last_progress
                    log.info("%s", window.line().replace("score:", "score: last interval", 1))
                    window = self._new_summary()
                    last_progress = now
                if (job.idle_exit_s and self.assigned_at is not None
                        and now - max(last_input, self.assigned_at) >= job.idle_exit_s):
                    log.info("score: no input for %.0f s, stopping", job.idle_exit_s)
                    break
                if job.max_rows and self.summary.consumed >= job.max_rows:
                    break
        finally:
            self.close()
            self.summary.elapsed_s = time.monotonic() - started
            log.info("%s", self.summary.line())
        return self.summary

    def poll_batch(self) -> list[Any]:
        """Wait for the first row, then take whatever else is already fetched (no waiting for a full batch:
        `consume(n, timeout)` would hold early rows until `n` arrive or the timeout passes)."""
        first = self.consumer.poll(0.1)
        if first is None:
            return []
        return [first, *self.consumer.consume(num_messages=MAX_BATCH - 1, timeout=0)]

    def process(self, msgs: list[Any], arrived_ns: int, window: ScoreSummary) -> None:
        """One poll batch in the commit order: decode, score, produce, both sinks acknowledged, then commit.

        The one place where a batch is done: its counters are updated at the end.
        """
        stats = (self.summary, window)
        good: list[dict[str, Any]] = []
        offsets: dict[tuple[str, int], int] = {}
        bad = 0
        for msg in msgs:
            if msg.error() is not None:
                # Partition EOF and transient errors are not rows; fatal ones surface on the next call.
                if msg.error().fatal():
                    raise KafkaUnavailable(f"Kafka consumer error: {msg.error()}", "check the broker")
                continue
            offsets[(msg.topic(), msg.partition())] = msg.offset() + 1
            try:
                good.append(decode_row(msg.value(), self.info))
            except BadRow as exc:
                reason, _, detail = str(exc).partition(": ")
                self.dlq.add(msg, reason, {"detail": detail} if detail else None)
                for s in stats:
                    s.dlq_reasons[reason] = s.dlq_reasons.get(reason, 0) + 1
                bad += 1
        if good:
            self._predict(good, arrived_ns, stats)
        latencies = self.predictions.flush()
        self.dlq.flush()
        if offsets:
            self.commit(offsets)
        for s in stats:
            s.consumed += len(good) + bad
            s.predicted += len(good)
            s.dead_lettered += bad
            s.batches += 1
            s.latencies_ms.extend(latencies)
            if len(s.latencies_ms) > MAX_LATENCY_SAMPLES:  # bounded memory on long runs: keep the recent half
                del s.latencies_ms[: MAX_LATENCY_SAMPLES // 2]
        metrics.score_batch(self.summary, latencies)

    def _predict(self, rows: list[dict[str, Any]], arrived_ns: int, stats: tuple[ScoreSummary, ...]) -> None:
        info = self.info
        probabilities = score_rows(self.scorer, rows, info)
        scored_at_ns = time.time_ns()
        for row, p in zip(rows, probabilities, strict=True):
            prediction = prediction_message(row, p, info, scored_at_ns)
            self.predictions.add(row["product_id"].encode(), json.dumps(prediction, separators=(",", ":")).encode(),
                                 arrived_ns)
            if prediction["is_spike"]:
                for s in stats:
                    s.alerts += 1
                log.info(
                    "ALERT %s %s p=%.3f (threshold %.3f)",
                    row["product_id"], row["second_at"], prediction["probability"], info.threshold,
                )
            if self.on_prediction is not None:
                self.on_prediction(prediction)

    def commit(self, offsets: dict[tuple[str, int], int]) -> None:
        """Commit acknowledged offsets without waiting (the final commit at shutdown waits)."""
        from confluent_kafka import KafkaException, TopicPartition

        self.acked_offsets.update(offsets)
        try:
            # Asynchronous: the predictions are already acknowledged, so the order holds, and the next
            # batch need not wait a round trip; the final commit at shutdown is synchronous.
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())], asynchronous=True
            )
        except KafkaException as exc:
            # A rebalance can revoke the partitions mid-batch; the rows are re-scored by the new owner.
            log.warning("score: offset commit failed (%s); rows will be re-scored after the rebalance", exc)

    def close(self) -> None:
        """Flush the producer, commit every acknowledged batch synchronously, then leave the group."""
        from confluent_kafka import KafkaException, TopicPartition

        self.predictions.close()
        if self.acked_offsets:
            try:
                self.consumer.commit(
                    offsets=[TopicPartition(t, p, o) for (t, p), o in sorted(self.acked_offsets.items())],
                    asynchronous=False,
                )
            except KafkaException as exc:
                log.warning("score: final offset commit failed (%s); a restart re-scores the last rows", exc)
        self.consumer.close()


def run_score(settings: Settings, job: ScoreJob | None = None, *, stop: threading.Event | None = None,
              on_prediction: Callable[[dict[str, Any]], None] | None = None) -> ScoreSummary:
    """Score `settings.kafka.topic_features` into `settings.kafka.topic_predictions` until stopped.

    Stops on SIGINT/SIGTERM (or `stop`), after `job.idle_exit_s` seconds without input (0 = never), or
    after `job.max_rows` consumed rows (0 = no limit). Raises `ModelError` for an unusable model or a SQL
    version mismatch and `KafkaUnavailable` when the broker cannot be reached.
    """
    from glue import kafka

    job = job or ScoreJob()
    source = job.model_source or default_model_source(settings)
    scorer = load_model(source, settings)
    info = model_info(scorer)
    # The model and libraries are loaded for good: move them out of the collector's way, so a full
    # garbage collection does not walk them in the middle of a batch (a latency tail, not throughput).
    gc.collect()
    gc.freeze()
    ks = settings.kafka
    log.info(
        "score: model %s version %s (sql %s, threshold %.4f, %d features); %s -> %s as group %s",
        source, info.model_version, info.sql_version, info.threshold, len(info.feature_columns),
        ks.topic_features, ks.topic_predictions, job.group_id or settings.model.score_group_id,
    )
    metrics.serve(settings.metrics.score_port, settings.metrics.host, "score")
    kafka.connect(ks, [ks.topic_features, ks.topic_predictions, ks.topic_dlq])
    stop = stop or threading.Event()
    loop = ScoreLoop(settings, job, scorer, info, stop, on_prediction)
    with stop_on_signals(stop, "score"):
        return loop.run()
