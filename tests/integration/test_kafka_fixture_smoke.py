"""The session broker answers and the project's topics can be created on it."""

from __future__ import annotations

import dataclasses

import pytest

from glue.config import KafkaSettings
from glue.kafka import ensure_topics, wait_until_ready


@pytest.mark.kafka
def test_broker_answers_and_topics_get_configured_partitions(kafka_bootstrap, unique_name):
    wait_until_ready(kafka_bootstrap, 10)
    settings = dataclasses.replace(
        KafkaSettings(bootstrap_servers=kafka_bootstrap),
        topic_raw=unique_name("raw"),
        topic_features=unique_name("features"),
        topic_predictions=unique_name("predictions"),
        topic_dlq=unique_name("dlq"),
        partitions_raw=6,
        partitions_features=3,
        partitions_predictions=2,
    )
    created = ensure_topics(settings)
    assert created == {
        settings.topic_raw: 6,
        settings.topic_features: 3,
        settings.topic_predictions: 2,
        settings.topic_dlq: 1,
    }
    assert ensure_topics(settings) == created  # idempotent
