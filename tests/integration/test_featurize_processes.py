"""`glue featurize` as real processes: kill -9 and restart, and two instances in one consumer group.

Both compare against `glue replay` / a single in-process instance of the same records, bit for bit.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from glue.featurize import run_featurize
from glue.testing.featurize import (
    REPO_ROOT,
    assert_tables_bitwise_equal,
    consume_all,
    featurize_cmd,
    featurize_env,
    job_for,
    key_counts,
    produce,
    read_parquet_dir,
    replay_table,
    settings_for,
    ticker_stream,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

# Eight products spread over the six partitions of the raw topic (murmur2), so both members get some.
GROUP_PRODUCTS = ("BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD", "ADA-USD", "XRP-USD", "LTC-USD", "AVAX-USD")


def _wait_for_new_parts(parts_dir: Path, before: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(list(parts_dir.glob("*.parquet"))) == before and time.monotonic() < deadline:
        time.sleep(0.05)


def test_kill_9_at_random_points_loses_and_duplicates_nothing(kafka_bootstrap, unique_name, tmp_path):
    records = ticker_stream(240, seed=21)
    topic_in, topic_out, dlq, group = unique_name("raw"), unique_name("feat"), unique_name("dlq"), unique_name("g")
    produce(kafka_bootstrap, topic_in, records)
    cmd = featurize_cmd(kafka_bootstrap, topic_in, topic_out, group, tmp_path, "k", until_idle_s=3)
    env = featurize_env(dlq, batch_frames=15)
    rng = random.Random(20260101)
    log_path = tmp_path / "featurize.log"
    rows_after_kill = []
    parts_dir = tmp_path / "features-k"
    with open(log_path, "ab") as log:
        # First at each step of the commit order (deterministic), on the 3rd batch of each run ...
        for point in ("landed", "finalized", "parquet", "produced", "kafka"):
            killed = subprocess.run([*cmd, "--crash-at", f"{point}:3"], cwd=REPO_ROOT, env=env, stdout=log,
                                    stderr=log, timeout=120)
            assert killed.returncode == -9, (point, log_path.read_text()[-3000:])
        # ... a clean SIGTERM mid-stream: the batch in hand is finished and exported, exit code 0 ...
        before = len(list(parts_dir.glob("*.parquet")))
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
        _wait_for_new_parts(parts_dir, before)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log_path.read_text()[-3000:]
        # ... then from outside, at random moments.
        for _ in range(3):
            before = len(list(parts_dir.glob("*.parquet")))
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
            # Kill mid-stream: once this run has exported something, at a random moment after.
            _wait_for_new_parts(parts_dir, before)
            time.sleep(rng.uniform(0.0, 1.5))
            proc.kill()  # SIGKILL: no handler, no flush
            proc.wait()
            parts = read_parquet_dir(parts_dir)
            rows_after_kill.append(0 if parts is None else parts.num_rows)
        final = subprocess.run(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=log, timeout=300)
    assert final.returncode == 0, log_path.read_text()[-3000:]

    live = read_parquet_dir(tmp_path / "features-k")
    assert rows_after_kill[-1] < live.num_rows, "the kills should land mid-stream"
    text = log_path.read_text()
    assert "already in Kafka" in text, "the restart after the `kafka` crash must not re-send that batch"
    assert "SIGTERM received" in text
    assert max(key_counts(live).values()) == 1
    settings = settings_for(kafka_bootstrap, dlq=dlq)
    assert_tables_bitwise_equal(live, replay_table(records, tmp_path / "replay", settings))
    # Kafka (read_committed): every row exactly once, although the producer died mid-transaction.
    sent = [json.loads(m.value()) for m in consume_all(kafka_bootstrap, topic_out)]
    keys = [(r["product_id"], r["second_at"]) for r in sent]
    assert len(keys) == len(set(keys)) == live.num_rows


def _assigned(log_text: str) -> list[int] | None:
    """The partitions a featurize process owns now, from its log (None while joining/rebalancing)."""
    found = re.findall(r"assigned \S+ partitions \[([0-9, ]*)\]", log_text)
    if not found:
        return None
    revoked_after = log_text.rfind("revoked partitions") > log_text.rfind("assigned ")
    return None if revoked_after else [int(p) for p in found[-1].split(",") if p.strip()]


def _run_pair(procs: dict, logs: dict, bootstrap: str, topic_in: str, records: list) -> dict:
    """Wait until the two members split the partitions, produce the stream, wait for both to finish."""
    try:
        deadline = time.monotonic() + 60
        while True:
            owned = {name: _assigned(path.read_text()) for name, path in logs.items()}
            if all(owned.values()) and sorted(owned["a"] + owned["b"]) == list(range(6)):
                break
            assert time.monotonic() < deadline, {n: p.read_text()[-2000:] for n, p in logs.items()}
            time.sleep(0.2)
        produce(bootstrap, topic_in, records)
        for name, proc in procs.items():
            assert proc.wait(timeout=300) == 0, logs[name].read_text()[-3000:]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return owned


def test_two_instances_in_one_group_union_equals_one_instance(kafka_bootstrap, unique_name, tmp_path):
    import pyarrow as pa

    from glue.config import KafkaSettings
    from glue.kafka import ensure_topics

    records = ticker_stream(120, seed=33, products=GROUP_PRODUCTS)
    dlq = unique_name("dlq")
    # The reference: one in-process instance over its own copy of the stream.
    ref_in, ref_out = unique_name("raw"), unique_name("feat")
    produce(kafka_bootstrap, ref_in, records)
    settings = settings_for(kafka_bootstrap, dlq=dlq, max_batch_frames=50)
    ref_job = job_for(tmp_path, ref_in, ref_out, unique_name("g"), name="ref")
    run_featurize(settings, ref_job)
    reference = read_parquet_dir(ref_job.parquet_dir)

    # Two processes join the group first, so that no partition moves while data flows.
    topic_in, topic_out, group = unique_name("raw"), unique_name("feat"), unique_name("g")
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), {topic_in: 6, topic_out: 6})
    env = featurize_env(dlq, batch_frames=50)
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    with contextlib.ExitStack() as files:
        procs = {
            name: subprocess.Popen(
                featurize_cmd(kafka_bootstrap, topic_in, topic_out, group, tmp_path, name, until_idle_s=15),
                cwd=REPO_ROOT, env=env, stdout=files.enter_context(open(logs[name], "wb")),
                stderr=subprocess.STDOUT,
            )
            for name in logs
        }
        owned = _run_pair(procs, logs, kafka_bootstrap, topic_in, records)

    assert owned["a"] and owned["b"] and not set(owned["a"]) & set(owned["b"])
    part_a, part_b = read_parquet_dir(tmp_path / "features-a"), read_parquet_dir(tmp_path / "features-b")
    assert part_a is not None and part_b is not None, "both members should own products"
    products_a = set(part_a.column("product_id").to_pylist())
    products_b = set(part_b.column("product_id").to_pylist())
    assert not products_a & products_b, "each product belongs to one partition, hence one instance"
    union = pa.concat_tables([part_a, part_b]).sort_by([("product_id", "ascending"), ("second_at", "ascending")])
    assert_tables_bitwise_equal(union, reference)
    assert len(consume_all(kafka_bootstrap, topic_out)) == union.num_rows
