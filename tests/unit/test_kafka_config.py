"""glue.kafka client configs, topic specs and helpers; one Kafka version everywhere; --help texts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from glue.cli import cli
from glue.config import BrokerSettings, KafkaSettings, Secret
from glue.kafka import (
    DeliveryCounter,
    consumer_config,
    headers_to_dict,
    producer_config,
    redacted,
    topic_config,
    topic_partitions,
)

REPO = Path(__file__).resolve().parents[2]


def test_producer_config_is_durable_and_sized_for_snapshots():
    conf = producer_config(KafkaSettings(compression="lz4", linger_ms=7, max_message_bytes=1 << 25))
    assert conf["enable.idempotence"] is True and conf["acks"] == "all"
    assert conf["compression.type"] == "lz4" and conf["linger.ms"] == 7
    assert conf["message.max.bytes"] == 1 << 25
    assert conf["partitioner"] == "murmur2_random"
    assert conf["bootstrap.servers"] == "127.0.0.1:9092"
    assert "security.protocol" not in conf and "sasl.password" not in conf


def test_overrides_accept_underscores_dots_and_python_keys():
    def cb(err, msg):
        return None

    conf = producer_config(KafkaSettings(), linger_ms=1, on_delivery=cb, log_level=2, **{"batch.size": 5})
    assert conf["linger.ms"] == 1 and conf["batch.size"] == 5
    assert conf["on_delivery"] is cb and conf["log_level"] == 2


def test_consumer_config_fetches_big_frames_and_never_autocommits():
    conf = consumer_config(KafkaSettings(max_message_bytes=33554432), "g1", auto_offset_reset="latest")
    assert conf["group.id"] == "g1"
    assert conf["enable.auto.commit"] is False
    assert conf["auto.offset.reset"] == "latest"
    assert conf["max.partition.fetch.bytes"] >= 33554432
    assert conf["fetch.max.bytes"] >= conf["max.partition.fetch.bytes"]
    assert conf["receive.message.max.bytes"] >= conf["fetch.max.bytes"] + 512
    assert conf["isolation.level"] == "read_committed"


def test_secrets_are_passed_through_but_redacted_for_logs():
    settings = KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="u",
                             sasl_password=Secret("hunter2"))
    conf = producer_config(settings)
    assert conf["sasl.password"] == "hunter2" and conf["security.protocol"] == "SASL_SSL"
    safe = redacted(conf)
    assert safe["sasl.password"] == "***" and "hunter2" not in repr(safe)
    assert "hunter2" not in repr(settings)


def test_topics_and_partitions_come_from_settings():
    settings = KafkaSettings(partitions_raw=12, partitions_features=4, partitions_predictions=2)
    assert topic_partitions(settings) == {"ticks.raw": 12, "ticks.features": 4, "ticks.predictions": 2,
                                          "ticks.dlq": 1}
    assert topic_config(settings) == {"max.message.bytes": "33554432"}


def test_headers_to_dict_and_delivery_counter():
    assert headers_to_dict([("a", b"1"), ("b", None), ("c", "x")]) == {"a": "1", "b": "", "c": "x"}
    assert headers_to_dict(None) == {}

    class Msg:
        def topic(self):
            return "t"

    class Err:
        def str(self):
            return "boom"

    seen = []
    counter = DeliveryCounter(then=lambda err, msg: seen.append(err))
    counter(None, Msg())
    counter(Err(), Msg())
    assert (counter.delivered, counter.failed, list(counter.errors)) == (1, 1, ["t: boom"])
    assert len(seen) == 2


def test_one_kafka_version_everywhere():
    """config.yaml is the one place; the settings default and the compose image must agree."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    version = str(config["broker"]["kafka_version"])
    assert BrokerSettings().kafka_version == version
    compose = REPO / "docker" / "compose.yaml"
    if compose.is_file():
        tags = re.findall(r"apache/kafka:([0-9][\w.\-]*)", compose.read_text())
        assert tags and set(tags) == {version}, f"compose uses {tags}, config.yaml says {version}"
    script = (REPO / "docker" / "local-kafka").read_text()
    assert "config_version" in script and not re.search(r"4\.\d+\.\d+", script.split("usage()")[0])


def test_help_has_examples():
    runner = CliRunner()
    for name in ("broker", "check"):
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example:" in result.output and f"glue {name} " in result.output
