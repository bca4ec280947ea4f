"""`glue score` on the real broker with a real model: every row predicted, bad rows dead-lettered,
version mismatch and unloadable models stop it with one clear line and a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glue.config import Settings
from glue.modeling.data import current_sql_version
from glue.testing.models import feature_messages, features_frame, train_artifacts

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    return train_artifacts(tmp_path_factory.mktemp("score-model") / "artifacts", seconds=1800)


def settings_for(bootstrap: str, unique_name) -> Settings:
    return Settings().replace({
        "kafka.bootstrap_servers": bootstrap,
        "kafka.topic_features": unique_name("features"),
        "kafka.topic_predictions": unique_name("predictions"),
        "kafka.topic_dlq": unique_name("dlq"),
        "kafka.partitions_features": 3,
        "kafka.partitions_predictions": 3,
    })


def produce(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    from confluent_kafka import Producer

    from glue import kafka

    kafka.ensure_topics(settings.kafka, [settings.kafka.topic_features])
    producer = Producer(kafka.producer_config(settings.kafka))
    for key, value in messages:
        producer.produce(settings.kafka.topic_features, key=key, value=value)
    assert producer.flush(30) == 0


def consume_all(settings: Settings, topic: str, expected: int, timeout_s: float = 30) -> list:
    from confluent_kafka import Consumer

    from glue import kafka

    consumer = Consumer(kafka.consumer_config(settings.kafka, f"read-{time.time_ns()}",
                                              **{"auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    out, deadline = [], time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            out += [m for m in consumer.consume(500, 0.5) if m.error() is None]
    finally:
        consumer.close()
    return out


def test_every_feature_row_gets_one_prediction_and_bad_rows_go_to_the_dlq(kafka_bootstrap, unique_name, artifacts):
    from glue.score import ScoreJob, run_score

    settings = settings_for(kafka_bootstrap, unique_name)
    df = features_frame(seconds=120)
    messages = feature_messages(df, emitted_at_ns=time.time_ns())
    bad = [(b"BTC-USD", b"{not json"), (b"ETH-USD", json.dumps({"product_id": "ETH-USD"}).encode())]
    produce(settings, messages[:100] + bad + messages[100:])

    group = unique_name("score")
    summary = run_score(settings, ScoreJob(model_source=str(artifacts), group_id=group,
                                           max_rows=len(messages) + len(bad), idle_exit_s=20))

    assert summary.consumed == len(messages) + len(bad)
    assert summary.predicted == len(messages) and summary.dead_lettered == 2
    predictions = consume_all(settings, settings.kafka.topic_predictions, len(messages))
    assert len(predictions) == len(messages)
    values = [json.loads(m.value()) for m in predictions]
    assert {(v["product_id"], v["second_at"]) for v in values} == {
        (r["product_id"], r["second_at"].strftime("%Y-%m-%dT%H:%M:%SZ")) for r in df.to_dict("records")
    }
    for m, v in zip(predictions, values, strict=True):
        assert m.key().decode() == v["product_id"]
        assert 0.0 <= v["probability"] <= 1.0 and v["is_spike"] == (v["probability"] >= v["threshold"])
        assert v["model_version"] == "test-1" and v["sql_version"] == current_sql_version()
    dlq = [json.loads(m.value()) for m in consume_all(settings, settings.kafka.topic_dlq, 2)]
    assert sorted(d["reason"] for d in dlq) == ["missing columns", "undecodable JSON (JSONDecodeError)"]
    assert all(d["source_topic"] == settings.kafka.topic_features for d in dlq)

    # Offsets were committed after the acks: a restart in the same group scores nothing again.
    again = run_score(settings, ScoreJob(model_source=str(artifacts), group_id=group, idle_exit_s=3))
    assert again.consumed == 0


def test_a_forecast_model_scores_kafka_rows_at_each_products_tau(kafka_bootstrap, unique_name, tmp_path):
    """glue score hands the forecast model each row's product, so Kafka rows get the offline probability."""
    from glue.modeling import load_scorer
    from glue.score import ScoreJob, run_score

    artifacts = train_artifacts(tmp_path / "artifacts", seconds=1800, model="forecast")
    scorer = load_scorer(artifacts)
    assert scorer.threshold_input and len(set(scorer.tau_bps.values())) > 1  # BTC and ETH have their own tau
    settings = settings_for(kafka_bootstrap, unique_name)
    df = features_frame(seconds=60)
    messages = feature_messages(df, emitted_at_ns=time.time_ns())
    produce(settings, messages)
    summary = run_score(settings, ScoreJob(model_source=str(artifacts), group_id=unique_name("score"),
                                           max_rows=len(messages), idle_exit_s=20))
    assert summary.predicted == len(messages)
    got = {(v["product_id"], v["second_at"]): v["probability"] for v in
           (json.loads(m.value()) for m in consume_all(settings, settings.kafka.topic_predictions, len(messages)))}
    offline = scorer.score(df)
    keys = [(r["product_id"], r["second_at"].strftime("%Y-%m-%dT%H:%M:%SZ")) for r in df.to_dict("records")]
    assert [got[k] for k in keys] == pytest.approx(list(offline), rel=1e-9, abs=1e-12)


def glue_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glue", *args], capture_output=True, text=True, timeout=timeout)


def test_sql_version_mismatch_stops_score_with_one_line(kafka_bootstrap, unique_name, artifacts):
    settings = settings_for(kafka_bootstrap, unique_name)
    df = features_frame(seconds=10)
    df["sql_version"] = "v9"
    produce(settings, feature_messages(df))
    result = glue_cli("score", "--bootstrap", kafka_bootstrap, "--topic-in", settings.kafka.topic_features,
                      "--topic-out", settings.kafka.topic_predictions, "--model", str(artifacts),
                      "--group", unique_name("score"), "--idle-exit", "20")
    assert result.returncode == 6, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error_lines == [
        f"error: feature rows are SQL version 'v9' but the model was trained on '{current_sql_version()}'. "
        "retrain on these features (`glue train`) or run featurize at the model's SQL version"
    ]
    assert "Traceback" not in result.stderr


def test_a_model_that_cannot_load_stops_score_with_one_line(tmp_path, kafka_bootstrap):
    result = glue_cli("score", "--bootstrap", kafka_bootstrap, "--model", str(tmp_path / "nothing-here"))
    assert result.returncode == 6
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "cannot load model" in line and "nothing-here" in line
