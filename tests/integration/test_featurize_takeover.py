"""A partition that moves to another `glue featurize` instance (its own warehouse) is not published twice.

The new owner has no state for the partition, so it rebuilds it from the start of the topic (its trailing
windows need the history); the rows the previous owner already published (final below the group's committed
offset, committed in the same Kafka transaction as those rows) are kept out of its exports.
"""

from __future__ import annotations

import json

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
    ticker_stream,
)

pytestmark = pytest.mark.kafka


def test_partition_moved_to_a_new_instance_is_not_published_twice(kafka_bootstrap, unique_name, tmp_path):
    import pyarrow as pa

    records = ticker_stream(90, seed=23)
    topic_in, topic_out, group = unique_name("raw"), unique_name("feat"), unique_name("g")
    settings = settings_for(kafka_bootstrap, dlq=unique_name("dlq"), max_batch_frames=50)
    half = len(records) // 2

    # instance A owns every partition for the first half of the stream, then leaves (clean stop)
    produce(kafka_bootstrap, topic_in, records[:half])
    job_a = job_for(tmp_path, topic_in, topic_out, group, name="a")
    first = run_featurize(settings, job_a)
    assert first.rows > 0

    # instance B (another warehouse file) joins the same group: it gets the partitions A published
    produce(kafka_bootstrap, topic_in, records[half:])
    # A is a static member: its partitions wait for its session to expire (10 s) before B gets them all
    job_b = job_for(tmp_path, topic_in, topic_out, group, name="b", until_idle_s=20.0)
    second = run_featurize(settings, job_b)
    assert second.rows > 0

    # every (product, second) once in ticks.features, and the union is one instance's output, bit for bit
    msgs = consume_all(kafka_bootstrap, topic_out)
    keys = [(r["product_id"], r["second_at"]) for r in (json.loads(m.value()) for m in msgs)]
    assert len(keys) == len(set(keys)), "a feature row was published twice"
    assert second.already_published > 0  # B rebuilt A's part of the stream without sending it again
    parts = [t for t in (read_parquet_dir(job_a.parquet_dir), read_parquet_dir(job_b.parquet_dir)) if t is not None]
    union = pa.concat_tables(parts).sort_by([("product_id", "ascending"), ("second_at", "ascending")])
    assert max(key_counts(union).values()) == 1
    assert len(msgs) == union.num_rows == first.rows + second.rows
    assert_tables_bitwise_equal(union, replay_table(records, tmp_path / "replay", settings))


def test_a_restart_on_the_same_warehouse_is_not_a_takeover(kafka_bootstrap, unique_name, tmp_path):
    records = ticker_stream(40, seed=29)
    topic_in, topic_out, group = unique_name("raw"), unique_name("feat"), unique_name("g")
    settings = settings_for(kafka_bootstrap, dlq=unique_name("dlq"), max_batch_frames=50)
    produce(kafka_bootstrap, topic_in, records[: len(records) // 2])
    job = job_for(tmp_path, topic_in, topic_out, group)
    run_featurize(settings, job)
    produce(kafka_bootstrap, topic_in, records[len(records) // 2 :])
    again = run_featurize(settings, job)
    assert again.rows > 0 and again.already_published == 0
    live = read_parquet_dir(job.parquet_dir)
    assert max(key_counts(live).values()) == 1
    assert_tables_bitwise_equal(live, replay_table(records, tmp_path / "replay", settings))
