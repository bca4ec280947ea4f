"""`glue featurize` in-process against the real broker and real DuckDB: live == replay, bit for bit.

Also: Kafka output == Parquet output (exactly once each), and garbage records are dead-lettered.
"""

from __future__ import annotations

import json
import threading

import pytest

from glue.featurize import run_featurize
from glue.testing.featurize import (
    assert_tables_bitwise_equal,
    consume_all,
    job_for,
    key_counts,
    produce,
    read_parquet_dir,
    replay_table,
    settings_for,
    simulated_stream,
    ticker_stream,
)

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize("batch_frames", [pytest.param(7, marks=pytest.mark.slow), 500])
def test_live_equals_replay_bitwise(kafka_bootstrap, unique_name, tmp_path, batch_frames):
    records = ticker_stream(60, seed=11)
    topic_in, topic_out = unique_name("raw"), unique_name("feat")
    produce(kafka_bootstrap, topic_in, records)
    settings = settings_for(kafka_bootstrap, dlq=unique_name("dlq"), max_batch_frames=batch_frames)
    job = job_for(tmp_path, topic_in, topic_out, unique_name("g"))

    stats = run_featurize(settings, job)

    live = read_parquet_dir(job.parquet_dir)
    assert live is not None and live.num_rows > 0
    assert max(key_counts(live).values()) == 1
    assert stats.rows == live.num_rows
    assert_tables_bitwise_equal(live, replay_table(records, tmp_path / "replay", settings))

    # Kafka carries the same rows once each (read_committed), with the exact float bits.
    msgs = consume_all(kafka_bootstrap, topic_out)
    assert len(msgs) == live.num_rows
    rows = {(r["product_id"], r["second_at"]): r for r in (json.loads(m.value()) for m in msgs)}
    assert len(rows) == live.num_rows
    for m in msgs:
        assert json.loads(m.value())["product_id"] == m.key().decode()
    first = live.slice(0, 1).to_pylist()[0]
    sent = rows[(first["product_id"], first["second_at"].strftime("%Y-%m-%dT%H:%M:%SZ"))]
    for name, value in first.items():
        if isinstance(value, float):
            assert sent[name] == value, name
    assert isinstance(sent["emitted_at"], int)


def test_live_equals_replay_on_the_simulated_market(kafka_bootstrap, unique_name, tmp_path):
    """Every channel of the simulated exchange (level2, trades, ticker, heartbeats), cut into small batches."""
    records = simulated_stream(120, products=("BTC-USD", "ETH-USD", "SOL-USD"), seed=9)
    topic_in, topic_out = unique_name("raw"), unique_name("feat")
    produce(kafka_bootstrap, topic_in, records)
    settings = settings_for(kafka_bootstrap, dlq=unique_name("dlq"), max_batch_frames=250)
    job = job_for(tmp_path, topic_in, topic_out, unique_name("g"))

    run_featurize(settings, job)

    live = read_parquet_dir(job.parquet_dir)
    assert live is not None and live.num_rows > 0
    assert set(live.column("product_id").to_pylist()) == {"BTC-USD", "ETH-USD", "SOL-USD"}
    assert max(key_counts(live).values()) == 1
    assert_tables_bitwise_equal(live, replay_table(records, tmp_path / "replay", settings))
    assert len(consume_all(kafka_bootstrap, topic_out)) == live.num_rows


def test_garbage_goes_to_dead_letters(kafka_bootstrap, unique_name, tmp_path):
    records = ticker_stream(30, seed=3)
    topic_in, topic_out, dlq = unique_name("raw"), unique_name("feat"), unique_name("dlq")
    produce(kafka_bootstrap, topic_in, records, garbage=6)
    settings = settings_for(kafka_bootstrap, dlq=dlq)
    job = job_for(tmp_path, topic_in, topic_out, unique_name("g"))

    stats = run_featurize(settings, job)

    assert stats.dead_letters == 6
    letters = [json.loads(m.value()) for m in consume_all(kafka_bootstrap, dlq)]
    assert len(letters) == 6
    assert {entry["reason"] for entry in letters} == {"missing header glue.kind"}
    assert all(entry["source_topic"] == topic_in and entry["offset"] >= 0 for entry in letters)
    # The good records around them still make the same features as a replay of the good records.
    assert_tables_bitwise_equal(
        read_parquet_dir(job.parquet_dir), replay_table(records, tmp_path / "replay", settings)
    )


@pytest.mark.slow
def test_stop_event_then_restart_continues(kafka_bootstrap, unique_name, tmp_path):
    """A clean stop mid-stream and a restart on the same warehouse: no lost, no duplicated row."""
    records = ticker_stream(60, seed=5)
    topic_in, topic_out = unique_name("raw"), unique_name("feat")
    produce(kafka_bootstrap, topic_in, records[: len(records) // 2])
    settings = settings_for(kafka_bootstrap, dlq=unique_name("dlq"), max_batch_frames=20)
    job = job_for(tmp_path, topic_in, topic_out, unique_name("g"))
    first = run_featurize(settings, job)
    produce(kafka_bootstrap, topic_in, records[len(records) // 2 :])
    stop = threading.Event()
    second = run_featurize(settings, job, stop)

    live = read_parquet_dir(job.parquet_dir)
    assert first.rows > 0 and second.rows > 0
    assert max(key_counts(live).values()) == 1
    assert_tables_bitwise_equal(live, replay_table(records, tmp_path / "replay", settings))
    assert len(consume_all(kafka_bootstrap, topic_out)) == live.num_rows
