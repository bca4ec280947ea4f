"""Live scoring: feature rows from Kafka in, one prediction per product and second out.

`run_score` is a consumer-group member on `ticks.features` (contracts section 5). Per poll batch it
decodes the rows, checks each against the model (columns, SQL version), scores the good ones in one
call, produces one prediction per row to `ticks.predictions` (key = product, value = contracts section
6), waits for the broker's acknowledgement, and only then commits the consumed offsets: delivery is
at-least-once and nothing consumed is lost. Rows that cannot be scored (undecodable, missing columns)
go to `ticks.dlq` with a reason and are counted; a row whose `sql_version` differs from the model's
stops the loop with a `ModelError` (a model must never score features it was not trained on).

Latency is measured per row from its arrival in this process to its prediction being acknowledged.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from glue import metrics
from glue.config import Settings
from glue.errors import GlueError, KafkaUnavailable, ModelError
from glue.signals import stop_on_signals

log = logging.getLogger("glue.score")

KEY_COLUMNS = ("product_id", "second_at", "sql_version")
# Why small: a prediction is useful only while fresh; we flush per batch anyway, so linger only
# adds delay to the first message of a batch.
SCORE_LINGER_MS = 1
MAX_BATCH = 1000
MAX_LATENCY_SAMPLES = 200_000


@dataclass
class ScoreSummary:
    """What one `run_score` call did; printed at the end and returned to callers and tests."""

    consumed: int = 0
    predicted: int = 0
    alerts: int = 0
    dead_lettered: int = 0
    batches: int = 0
    elapsed_s: float = 0.0
    model_version: str = ""
    sql_version: str = ""
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    dlq_reasons: dict[str, int] = field(default_factory=dict)

    def percentile_ms(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def line(self) -> str:
        rate = self.consumed / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (
            f"score: consumed {self.consumed} rows ({rate:.0f}/s), predicted {self.predicted}, "
            f"alerts {self.alerts}, dead-lettered {self.dead_lettered}, "
            f"latency p50 {self.percentile_ms(50):.1f} ms p99 {self.percentile_ms(99):.1f} ms, "
            f"model {self.model_version or '?'} (sql {self.sql_version or '?'})"
        )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for an empty list); deterministic and dependency free."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def default_model_source(settings: Settings) -> str:
    """The registered champion, `models:/<name>@<alias>`."""
    return f"models:/{settings.model.registered_model}@{settings.model.alias}"


def load_model(source: str, settings: Settings) -> Any:
    """Load a scorer through `glue.modeling.load_scorer`, turning any failure into one clear line."""
    try:
        from glue import modeling

        load_scorer = getattr(modeling, "load_scorer", None)
        if load_scorer is None:
            from glue.modeling.scorer import load_scorer
    except ImportError as exc:  # the modelling package is missing from this install
        raise ModelError(f"cannot import glue.modeling ({exc})", "reinstall the project: make venv") from exc
    try:
        scorer = load_scorer(source, tracking_uri=settings.model.tracking_uri)
    except GlueError as exc:
        raise ModelError(f"cannot load model '{source}': {exc.message}", exc.hint) from exc
    except Exception as exc:  # any loader failure is the same user problem: no usable model
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(
            f"cannot load model '{source}' ({detail})",
            "train one with `glue train`, or pass --model models/artifacts",
        ) from exc
    return scorer


def _meta(scorer: Any, name: str, default: Any = None) -> Any:
    """Scorer metadata (contracts section 6) as attribute or in a `metadata`/`meta` mapping."""
    if hasattr(scorer, name):
        return getattr(scorer, name)
    for holder in ("metadata", "meta"):
        mapping = getattr(scorer, holder, None)
        if isinstance(mapping, dict) and name in mapping:
            return mapping[name]
    return default


@dataclass(frozen=True)
class ModelInfo:
    feature_columns: tuple[str, ...]
    threshold: float
    model_version: str
    sql_version: str


def model_info(scorer: Any) -> ModelInfo:
    columns = _meta(scorer, "feature_columns")
    threshold = _meta(scorer, "threshold")
    if not columns or threshold is None:
        raise ModelError("the model has no feature_columns/threshold metadata", "retrain it with `glue train`")
    return ModelInfo(
        feature_columns=tuple(columns),
        threshold=float(threshold),
        model_version=str(_meta(scorer, "model_version", "") or ""),
        sql_version=str(_meta(scorer, "sql_version", "") or ""),
    )


class BadRow(ValueError):
    """A feature row that cannot be scored; its message is the dead-letter reason."""


def decode_row(value: bytes | None, info: ModelInfo) -> dict[str, Any]:
    """Parse one `ticks.features` value and check it carries what the model needs.

    Raises `BadRow` (dead-letter it) for undecodable values or missing columns, and `ModelError`
    (stop) for a row from another SQL version than the model's.
    """
    if value is None:
        raise BadRow("empty value")
    try:
        row = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRow(f"undecodable JSON ({exc.__class__.__name__})") from exc
    if not isinstance(row, dict):
        raise BadRow("value is not a JSON object")
    missing = [c for c in (*KEY_COLUMNS, *info.feature_columns) if c not in row]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise BadRow(f"missing columns: {shown}")
    if not isinstance(row["product_id"], str) or not isinstance(row["second_at"], str):
        raise BadRow("product_id/second_at are not strings")
    if info.sql_version and str(row["sql_version"]) != info.sql_version:
        raise ModelError(
            f"feature rows are SQL version '{row['sql_version']}' but the model was trained on "
            f"'{info.sql_version}'",
            "retrain on these features (`glue train`) or run featurize at the model's SQL version",
        )
    for column in info.feature_columns:
        v = row[column]
        if v is not None and not isinstance(v, int | float):  # bool is an int: flags score as 0/1
            raise BadRow(f"column {column} is not numeric")
    return row


def prediction_message(row: dict[str, Any], probability: float, info: ModelInfo, scored_at_ns: int) -> dict:
    """The `ticks.predictions` value of contracts section 6 for one feature row."""
    p = float(probability)
    return {
        "product_id": row["product_id"],
        "second_at": row["second_at"],
        "probability": round(p, 6),
        "is_spike": bool(p >= info.threshold),
        "threshold": info.threshold,
        "model_version": info.model_version,
        "sql_version": row["sql_version"],
        "feature_emitted_at": row.get("emitted_at"),
        "scored_at": scored_at_ns,
    }


def score_rows(scorer: Any, rows: list[dict[str, Any]], info: ModelInfo) -> list[float]:
    """Probabilities for rows, one model call per batch (NULL features go in as NaN, booleans as 0/1)."""
    import numpy as np

    matrix = np.array(
        [[np.nan if r[c] is None else float(r[c]) for c in info.feature_columns] for r in rows], dtype=np.float64
    )
    try:
        if hasattr(scorer, "score_matrix"):  # skips building a DataFrame on the hot path
            probabilities = scorer.score_matrix(matrix)
        else:
            import pandas as pd

            probabilities = scorer.score(pd.DataFrame(matrix, columns=list(info.feature_columns)))
    except GlueError:
        raise
    except Exception as exc:
        raise ModelError(f"the model failed to score a batch ({exc})", "check the model and features agree") from exc
    return [float(p) for p in np.asarray(probabilities, dtype=float).reshape(-1)]


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Acks:
    """Delivery reports for one batch: the broker's acknowledgement time per message, or the error."""

    def __init__(self) -> None:
        self.acked_ns: list[int] = []
        self.arrived_ns: list[int] = []
        self.errors: list[str] = []

    def callback(self, arrived_ns: int, timed: bool = True) -> Callable[[Any, Any], None]:
        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                self.errors.append(str(err))
            elif timed:
                self.acked_ns.append(time.perf_counter_ns())
                self.arrived_ns.append(arrived_ns)

        return on_delivery


def run_score(
    settings: Settings,
    *,
    model_source: str | None = None,
    group_id: str | None = None,
    idle_exit_s: float = 0.0,
    max_rows: int = 0,
    progress_interval_s: float = 5.0,
    stop: threading.Event | None = None,
    on_prediction: Callable[[dict[str, Any]], None] | None = None,
) -> ScoreSummary:
    """Score `settings.kafka.topic_features` into `settings.kafka.topic_predictions` until stopped.

    Stops on SIGINT/SIGTERM (or `stop`), after `idle_exit_s` seconds without input (0 = never), or
    after `max_rows` consumed rows (0 = no limit). Raises `ModelError` for an unusable model or a SQL
    version mismatch and `KafkaUnavailable` when the broker cannot be reached.
    """
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    from glue import kafka

    source = model_source or default_model_source(settings)
    scorer = load_model(source, settings)
    info = model_info(scorer)
    # The model and libraries are loaded for good: move them out of the collector's way, so a full
    # garbage collection does not walk them in the middle of a batch (a latency tail, not throughput).
    gc.collect()
    gc.freeze()
    ks = settings.kafka
    group = group_id or settings.model.score_group_id
    summary = ScoreSummary(model_version=info.model_version, sql_version=info.sql_version)
    log.info(
        "score: model %s version %s (sql %s, threshold %.4f, %d features); %s -> %s as group %s",
        source, info.model_version, info.sql_version, info.threshold, len(info.feature_columns),
        ks.topic_features, ks.topic_predictions, group,
    )
    metrics.serve(settings.metrics.score_port, settings.metrics.host, "score")
    try:
        kafka.wait_until_ready(ks.bootstrap_servers, 15.0)
        kafka.ensure_topics(ks, [ks.topic_features, ks.topic_predictions, ks.topic_dlq])
    except GlueError:
        raise
    except Exception as exc:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {ks.bootstrap_servers} ({exc})", "start it: make broker-up"
        ) from exc

    consumer = Consumer(
        kafka.consumer_config(
            ks, group, **{"enable.auto.commit": False, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10}
        )
    )
    producer = Producer(kafka.producer_config(ks, **{"linger.ms": SCORE_LINGER_MS}))
    dlq_errors: list[str] = []
    dead_letters = kafka.DeadLetter(
        producer, ks.topic_dlq, on_delivery=lambda err, _m: err is not None and dlq_errors.append(str(err))
    )
    stop = stop or threading.Event()
    started = time.monotonic()
    last_input = started
    last_progress = started
    window = ScoreSummary(model_version=info.model_version, sql_version=info.sql_version)
    acked_offsets: dict[tuple[str, int], int] = {}
    try:
        assigned: list[float] = []

        def on_assign(_consumer: Any, partitions: list) -> None:
            # The idle clock starts once partitions are ours: a slow group join is not "no input".
            assigned.append(time.monotonic())
            log.info("score: assigned %s partitions %s", ks.topic_features, sorted(p.partition for p in partitions))

        consumer.subscribe([ks.topic_features], on_assign=on_assign)
        with stop_on_signals(stop, "score"):
            while not stop.is_set():
                msgs = _poll_batch(consumer)
                arrived_ns = time.perf_counter_ns()
                now = time.monotonic()
                if msgs:
                    last_input = now
                    _score_batch(msgs, arrived_ns, scorer, info, producer, consumer, dead_letters, ks,
                                 (summary, window), on_prediction, acked_offsets, TopicPartition, KafkaException)
                    if dlq_errors:
                        raise KafkaUnavailable(f"dead letters not acknowledged ({dlq_errors[0]})", "check the broker")
                if now - last_progress >= progress_interval_s:
                    window.elapsed_s = now - last_progress
                    log.info("%s", window.line().replace("score:", "score: last interval", 1))
                    window = ScoreSummary(model_version=info.model_version, sql_version=info.sql_version)
                    last_progress = now
                if idle_exit_s and assigned and now - max(last_input, assigned[0]) >= idle_exit_s:
                    log.info("score: no input for %.0f s, stopping", idle_exit_s)
                    break
                if max_rows and summary.consumed >= max_rows:
                    break
    finally:
        producer.flush(10)
        _final_commit(consumer, acked_offsets, TopicPartition, KafkaException)
        consumer.close()
        summary.elapsed_s = time.monotonic() - started
        log.info("%s", summary.line())
    return summary


def _final_commit(consumer: Any, acked_offsets: dict, TopicPartition: Any, KafkaException: Any) -> None:
    """Commit every acknowledged batch synchronously before leaving the group."""
    if not acked_offsets:
        return
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in sorted(acked_offsets.items())], asynchronous=False
        )
    except KafkaException as exc:
        log.warning("score: final offset commit failed (%s); a restart re-scores the last rows", exc)


def _poll_batch(consumer: Any) -> list:
    """Wait for the first row, then take whatever else is already fetched (no waiting for a full batch:
    `consume(n, timeout)` would hold early rows until `n` arrive or the timeout passes)."""
    first = consumer.poll(0.1)
    if first is None:
        return []
    return [first, *consumer.consume(num_messages=MAX_BATCH - 1, timeout=0)]


def _score_batch(msgs, arrived_ns, scorer, info, producer, consumer, dead_letters, ks, stats, on_prediction,
                 acked_offsets, TopicPartition, KafkaException) -> None:
    """Decode, score, produce, wait for acks, then commit: the at-least-once order."""
    acks = _Acks()
    good: list[dict] = []
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
            good.append(decode_row(msg.value(), info))
        except BadRow as exc:
            reason, _, detail = str(exc).partition(": ")
            dead_letters.send(
                reason, source_topic=msg.topic(), value=msg.value(), partition=msg.partition(), offset=msg.offset(),
                detail={"detail": detail} if detail else None,
            )
            for s in stats:
                s.dlq_reasons[reason] = s.dlq_reasons.get(reason, 0) + 1
            bad += 1
    if good:
        probabilities = score_rows(scorer, good, info)
        scored_at_ns = time.time_ns()
        for row, p in zip(good, probabilities, strict=True):
            prediction = prediction_message(row, p, info, scored_at_ns)
            producer.produce(
                ks.topic_predictions,
                key=row["product_id"].encode(),
                value=json.dumps(prediction, separators=(",", ":")).encode(),
                on_delivery=acks.callback(arrived_ns),
            )
            if prediction["is_spike"]:
                for s in stats:
                    s.alerts += 1
                log.info(
                    "ALERT %s %s p=%.3f (threshold %.3f)",
                    row["product_id"], row["second_at"], prediction["probability"], info.threshold,
                )
            if on_prediction is not None:
                on_prediction(prediction)
    remaining = producer.flush(30)
    if remaining or acks.errors:
        raise KafkaUnavailable(
            f"predictions not acknowledged ({remaining} pending, errors: {acks.errors[:1]})",
            "check the broker; offsets were not committed, so a restart re-scores these rows",
        )
    if offsets:
        acked_offsets.update(offsets)
        try:
            # Asynchronous: the predictions are already acknowledged, so the order holds, and the next
            # batch need not wait a round trip; the final commit at shutdown is synchronous.
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())], asynchronous=True
            )
        except KafkaException as exc:
            # A rebalance can revoke the partitions mid-batch; the rows are re-scored by the new owner.
            log.warning("score: offset commit failed (%s); rows will be re-scored after the rebalance", exc)
    latencies = [(a - r) / 1e6 for a, r in zip(acks.acked_ns, acks.arrived_ns, strict=True)]
    for s in stats:
        s.consumed += len(good) + bad
        s.predicted += len(good)
        s.dead_lettered += bad
        s.batches += 1
        s.latencies_ms.extend(latencies)
        if len(s.latencies_ms) > MAX_LATENCY_SAMPLES:  # bounded memory on long runs: keep the recent half
            del s.latencies_ms[: MAX_LATENCY_SAMPLES // 2]
    metrics.score_batch(stats[0], latencies)
