"""Kafka for the whole project: client configs, topic creation, readiness, dead letters, offsets and dumps.

Every producer, consumer and admin client is configured here, from `KafkaSettings`, so that the
limits that matter agree end to end: raw level2 snapshots are several MB, so the producer's
`message.max.bytes`, the consumer's fetch sizes and every topic's `max.message.bytes` are raised
to `max_message_bytes` (the broker, `docker/local-kafka`, is started with the same limit).
Producers are idempotent with `acks=all`, and use the `murmur2_random` partitioner so a key maps
to the same partition as with the Java clients.

Secrets (`sasl_password`) are handed to librdkafka and never logged; use `redacted(config)` to
log a configuration.

Overrides: keyword arguments use librdkafka names with `_` for `.` (`linger_ms=5`) or the dotted
names themselves (`**{"linger.ms": 5}`); Python-level keys (`on_delivery`, `error_cb`, `logger`,
`stats_cb`, ...) and `log_level` are passed as they are.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glue.errors import GlueError, KafkaUnavailable

if TYPE_CHECKING:
    from confluent_kafka import Message, Producer

    from glue.config import KafkaSettings

log = logging.getLogger("glue.kafka")

# Dead letters are rare and read in order: one partition.
DLQ_PARTITIONS = 1
# Keys spelled with `_` themselves: confluent-kafka's Python-level keys, and librdkafka's log_level.
_VERBATIM_KEYS = frozenset(
    {"error_cb", "stats_cb", "throttle_cb", "oauth_cb", "on_delivery", "on_commit", "logger", "log_level"}
)
_SECRET_KEYS = ("sasl.password", "ssl.key.password", "sasl.oauthbearer.client.secret")


def _normalise(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return {(k if k in _VERBATIM_KEYS or "." in k else k.replace("_", ".")): v for k, v in overrides.items()}


def common_config(kafka_settings: KafkaSettings) -> dict[str, Any]:
    """Bootstrap and security settings shared by producers, consumers and admin clients."""
    conf: dict[str, Any] = {
        "bootstrap.servers": kafka_settings.bootstrap_servers,
        "client.id": "glue",
    }
    if kafka_settings.security_protocol and kafka_settings.security_protocol.upper() != "PLAINTEXT":
        conf["security.protocol"] = kafka_settings.security_protocol
    if kafka_settings.sasl_mechanism:
        conf["sasl.mechanism"] = kafka_settings.sasl_mechanism
    if kafka_settings.sasl_username:
        conf["sasl.username"] = kafka_settings.sasl_username
    if kafka_settings.sasl_password:
        secret = kafka_settings.sasl_password
        conf["sasl.password"] = secret.reveal() if hasattr(secret, "reveal") else str(secret)
    return conf


def producer_config(kafka_settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """An idempotent, `acks=all`, compressed producer that accepts frames up to `max_message_bytes`."""
    conf = common_config(kafka_settings)
    conf.update(
        {
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": kafka_settings.compression,
            "linger.ms": kafka_settings.linger_ms,
            "message.max.bytes": kafka_settings.max_message_bytes,
            "partitioner": "murmur2_random",
            # Room for bursts and short broker outages before produce() raises BufferError.
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "batch.num.messages": 10_000,
            "retry.backoff.ms": 100,
            "retry.backoff.max.ms": 1000,
            # A message is retried for up to 5 minutes before its delivery report says it failed.
            "message.timeout.ms": 300_000,
        }
    )
    conf.update(_normalise(overrides))
    return conf


def consumer_config(kafka_settings: KafkaSettings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """A consumer that commits only when told to and fetches frames up to `max_message_bytes`."""
    max_bytes = kafka_settings.max_message_bytes
    fetch_max = max(2 * max_bytes, 52_428_800)
    conf = common_config(kafka_settings)
    conf.update(
        {
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "message.max.bytes": max_bytes,
            "max.partition.fetch.bytes": max_bytes,
            "fetch.max.bytes": fetch_max,
            # librdkafka requires receive.message.max.bytes >= fetch.max.bytes + 512.
            "receive.message.max.bytes": fetch_max + 1_048_576,
            "enable.partition.eof": False,
        }
    )
    conf.update(_normalise(overrides))
    return conf


def admin_config(kafka_settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """An admin client configuration (bootstrap and security only)."""
    conf = common_config(kafka_settings)
    conf.update(_normalise(overrides))
    return conf


def redacted(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to log: secrets replaced by '***', callables by their names."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in _SECRET_KEYS and value:
            out[key] = "***"
        elif callable(value):
            out[key] = getattr(value, "__name__", "<callable>")
        else:
            out[key] = value
    return out


# --- topics ------------------------------------------------------------------------------------


def topic_partitions(kafka_settings: KafkaSettings) -> dict[str, int]:
    """The project's topics and their partition counts, from settings."""
    return {
        kafka_settings.topic_raw: kafka_settings.partitions_raw,
        kafka_settings.topic_features: kafka_settings.partitions_features,
        kafka_settings.topic_predictions: kafka_settings.partitions_predictions,
        kafka_settings.topic_dlq: DLQ_PARTITIONS,
    }


def topic_config(kafka_settings: KafkaSettings) -> dict[str, str]:
    """Per-topic settings: every topic accepts messages up to `max_message_bytes`."""
    return {"max.message.bytes": str(kafka_settings.max_message_bytes)}


def ensure_topics(
    kafka_settings: KafkaSettings,
    names: Iterable[str] | Mapping[str, int] | None = None,
    *,
    default_partitions: int = 1,
    timeout_s: float = 30.0,
) -> dict[str, int]:
    """Create the topics that do not exist yet; existing ones are left as they are.

    `names=None` means the project's four topics with the partitions from settings. A name not
    among them gets `default_partitions`, or pass a mapping `{name: partitions}`. Returns the
    partition count of every requested topic. Waits until every partition has a leader, so a
    producer can use the topic right away. Raises `KafkaUnavailable` if the broker is unreachable.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    configured = topic_partitions(kafka_settings)
    if names is None:
        wanted = dict(configured)
    elif isinstance(names, Mapping):
        wanted = {str(k): int(v) for k, v in names.items()}
    else:
        wanted = {n: configured.get(n, default_partitions) for n in names}

    admin = AdminClient(admin_config(kafka_settings, log_level=2))
    existing = _list_topics(admin, kafka_settings.bootstrap_servers, timeout_s)
    missing = [name for name in wanted if name not in existing]
    if missing:
        new = [
            NewTopic(
                name,
                num_partitions=wanted[name],
                replication_factor=kafka_settings.replication_factor,
                config=topic_config(kafka_settings),
            )
            for name in missing
        ]
        for name, future in admin.create_topics(new, request_timeout=timeout_s).items():
            try:
                future.result()
                log.info("created topic %s with %d partitions", name, wanted[name])
            except KafkaException as exc:
                err = exc.args[0]
                if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:  # a concurrent creator is fine
                    raise KafkaUnavailable(
                        f"could not create topic {name} on {kafka_settings.bootstrap_servers} ({err.str()})",
                        "check the broker log and the partition/replication settings",
                    ) from exc
    result = _wait_for_leaders(admin, kafka_settings.bootstrap_servers, list(wanted), timeout_s)
    for name, partitions in result.items():
        if partitions != wanted[name]:
            log.warning("topic %s exists with %d partitions (configured: %d)", name, partitions, wanted[name])
    return result


def _list_topics(admin: Any, bootstrap: str, timeout_s: float) -> dict[str, Any]:
    from confluent_kafka import KafkaException

    try:
        return admin.list_topics(timeout=timeout_s).topics
    except KafkaException as exc:
        raise KafkaUnavailable(
            f"Kafka at {bootstrap} is not reachable ({exc.args[0].str() if exc.args else exc})",
            "start it with 'glue broker up' (or docker/local-kafka up) or set kafka.bootstrap_servers",
        ) from exc


def _wait_for_leaders(admin: Any, bootstrap: str, names: list[str], timeout_s: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        topics = _list_topics(admin, bootstrap, max(1.0, deadline - time.monotonic()))
        ready: dict[str, int] = {}
        for name in names:
            meta = topics.get(name)
            if (
                meta is not None
                and meta.error is None
                and meta.partitions
                and all(p.leader >= 0 for p in meta.partitions.values())
            ):
                ready[name] = len(meta.partitions)
        if len(ready) == len(names):
            return ready
        if time.monotonic() > deadline:
            missing = sorted(set(names) - set(ready))
            raise KafkaUnavailable(
                f"topics {', '.join(missing)} have no partition leaders on {bootstrap} after {timeout_s:.0f} s",
                "check the broker log",
            )
        time.sleep(0.1)


def topic_exists(kafka_settings: KafkaSettings, name: str, timeout_s: float = 10.0) -> bool:
    """Whether the topic exists (raises `KafkaUnavailable` if the broker is unreachable)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(admin_config(kafka_settings, log_level=2))
    return name in _list_topics(admin, kafka_settings.bootstrap_servers, timeout_s)


def wait_until_ready(bootstrap: str, timeout_s: float, **extra: Any) -> None:
    """Block until the broker answers a metadata request and lists a broker, or raise KafkaUnavailable.

    `extra` carries additional client settings (for example security) in librdkafka names.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    conf = {"bootstrap.servers": bootstrap, "log_level": 2, "socket.connection.setup.timeout.ms": 1000}
    conf.update(_normalise(extra))
    admin = AdminClient(conf)
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise KafkaUnavailable(
                f"Kafka at {bootstrap} did not answer a metadata request within {timeout_s:g} s ({last})",
                "start it with 'glue broker up' or check kafka.bootstrap_servers",
            )
        try:
            meta = admin.list_topics(timeout=max(0.2, min(left, 2.0)))
            if meta.brokers:
                return
            last = "no brokers in metadata"
        except KafkaException as exc:
            last = exc.args[0].str() if exc.args else str(exc)
        time.sleep(0.1)


# --- small helpers -----------------------------------------------------------------------------


def connect(
    kafka_settings: KafkaSettings, topics: Iterable[str] | Mapping[str, int], timeout_s: float = 15.0
) -> None:
    """What a stream loop does before it starts: wait until the broker answers, then ensure its topics.

    Any failure is one `KafkaUnavailable` line saying how to start the broker.
    """
    try:
        wait_until_ready(kafka_settings.bootstrap_servers, timeout_s)
        ensure_topics(kafka_settings, topics)
    except GlueError:
        raise
    except Exception as exc:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {kafka_settings.bootstrap_servers} ({exc})", "start it: glue broker up"
        ) from exc


def headers_to_dict(headers: Iterable[tuple[str, bytes | str | None]] | None) -> dict[str, str]:
    """Kafka headers as a str -> str dict (last value wins; missing values become '')."""
    out: dict[str, str] = {}
    for key, value in headers or ():
        if value is None:
            out[key] = ""
        elif isinstance(value, bytes):
            out[key] = value.decode("utf-8", errors="replace")
        else:
            out[key] = str(value)
    return out


class DeliveryCounter:
    """A delivery-report callback that counts outcomes (pass it as `on_delivery`).

    Keeps the last few errors for the summary; `then` is called after counting, e.g. to track
    acknowledged offsets.
    """

    def __init__(self, then: Callable[[Any, Message], None] | None = None, keep_errors: int = 20) -> None:
        self.delivered = 0
        self.failed = 0
        self.errors: deque[str] = deque(maxlen=keep_errors)
        self._then = then

    def __call__(self, err: Any, msg: Message) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            self.errors.append(f"{msg.topic()}: {err.str() if hasattr(err, 'str') else err}")
        if self._then is not None:
            self._then(err, msg)


class DeadLetter:
    """Writes a JSON dead-letter record with its reason to the DLQ topic, and counts reasons.

    Value: `{"reason", "source_topic", "partition", "offset", "value", "detail"?}` (the original
    bytes as text); key: the source topic. The first few per reason are logged at WARNING, the
    rest at DEBUG with a count every 1000, so a flood of bad input cannot flood the log.
    """

    def __init__(self, producer: Producer, topic: str = "ticks.dlq", on_delivery: Callable | None = None) -> None:
        self.producer = producer
        self.topic = topic
        self.counts: Counter[str] = Counter()
        self._on_delivery = on_delivery

    def send(
        self,
        reason: str,
        *,
        source_topic: str,
        value: bytes | str | None,
        partition: int | None = None,
        offset: int | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
        record: dict[str, Any] = {
            "reason": reason,
            "source_topic": source_topic,
            "partition": partition,
            "offset": offset,
            "value": text,
        }
        if detail:
            record["detail"] = dict(detail)
        payload = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        kwargs: dict[str, Any] = {}
        if self._on_delivery is not None:
            kwargs["on_delivery"] = self._on_delivery
        while True:
            try:
                self.producer.produce(self.topic, value=payload, key=source_topic.encode(), **kwargs)
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                self.producer.poll(0.1)
        self.counts[reason] += 1
        n = self.counts[reason]
        if n <= 5:
            log.warning("dead letter (%s) from %s[%s]@%s", reason, source_topic, partition, offset)
        elif n % 1000 == 0:
            log.warning("dead letters with reason %s: %d so far", reason, n)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# --- offsets and topic dumps (the demo, tests) -------------------------------------------------


def end_offsets(kafka_settings: KafkaSettings, topic: str) -> dict[int, int]:
    """High watermark per partition of a topic (empty when the topic does not exist yet)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(consumer_config(kafka_settings, "glue-offsets", **{"enable.auto.commit": False}))
    try:
        meta = consumer.list_topics(topic, timeout=10)
        parts = meta.topics.get(topic)
        if parts is None or parts.error is not None:
            return {}
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts.partitions}
    finally:
        consumer.close()


def committed_offsets(kafka_settings: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    """A consumer group's committed offset per partition (without joining the group)."""
    from confluent_kafka import Consumer, TopicPartition

    partitions = end_offsets(kafka_settings, topic)
    if not partitions:
        return {}
    consumer = Consumer(consumer_config(kafka_settings, group, **{"enable.auto.commit": False}))
    try:
        got = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: max(tp.offset, 0) for tp in got}
    finally:
        consumer.close()


def dump_topic(kafka_settings: KafkaSettings, topic: str, path: Path, timeout_s: float = 60.0) -> int:
    """Copy a topic from the beginning to NDJSON, sorted (product_id, second_at, then the whole row) so the file
    is deterministic."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(consumer_config(kafka_settings, f"glue-dump-{time.time_ns()}",
                                        **{"enable.auto.commit": False, "auto.offset.reset": "earliest"}))
    try:
        ends = end_offsets(kafka_settings, topic)
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        position = dict.fromkeys(ends, 0)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while any(position[p] < ends[p] for p in ends) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is None:
                    values.append(msg.value())
                    position[msg.partition()] = msg.offset() + 1
    finally:
        consumer.close()
    lines = sorted(json.dumps(json.loads(v), sort_keys=True) for v in values)
    lines.sort(key=lambda line: (json.loads(line).get("product_id", ""), json.loads(line).get("second_at", "")))
    path.write_text("".join(line + "\n" for line in lines))
    return len(lines)
