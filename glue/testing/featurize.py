"""Featurize test support (integration tests and bench): a record stream, producing it, reading output.

The stream is handcrafted Advanced Trade envelopes (ticker + market_trades, several products, a
seeded random walk), encoded exactly as `glue ingest` does (glue.records), so featurize and replay
see what they would see live.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glue.records import KIND_FRAME, Record, fanout_keys, format_rfc3339_ns

if TYPE_CHECKING:
    import pyarrow as pa
    from confluent_kafka import Message

    from glue.config import Settings
    from glue.featurize import FeaturizeJob, FeaturizeStats

PRODUCTS = ("BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD")
START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def ticker_stream(
    seconds: int, products: Iterable[str] = PRODUCTS, seed: int = 7, per_second: int = 5, start_ns: int = START_NS
) -> list[Record]:
    """Ticker and market_trades frames over `seconds` of exchange time, in receipt order."""
    rng = random.Random(seed)
    products = tuple(products)
    price = {p: 100.0 * (i + 1) for i, p in enumerate(products)}
    trade_id = dict.fromkeys(products, 1000)
    records: list[Record] = []
    seq = 0
    t = start_ns
    end = start_ns + seconds * 1_000_000_000
    while t < end:
        t += rng.randint(1, 2_000_000_000 // per_second)
        p = rng.choice(products)
        price[p] *= 1.0 + rng.gauss(0.0, 0.0005)
        px = round(price[p], 2)
        half = round(max(0.01, px * 0.0001), 2)
        if rng.random() < 0.7:
            event = {
                "type": "update",
                "tickers": [
                    {
                        "type": "ticker", "product_id": p, "price": f"{px:.2f}",
                        "volume_24_h": "1000.0", "low_24_h": "1", "high_24_h": "1000000",
                        "low_52_w": "1", "high_52_w": "1000000", "price_percent_chg_24_h": "0.1",
                        "best_bid": f"{px - half:.2f}", "best_bid_quantity": f"{rng.uniform(0.1, 5):.8f}",
                        "best_ask": f"{px + half:.2f}", "best_ask_quantity": f"{rng.uniform(0.1, 5):.8f}",
                    }
                ],
            }
            channel = "ticker"
        else:
            trade_id[p] += 1
            event = {
                "type": "update",
                "trades": [
                    {
                        "trade_id": str(trade_id[p]), "product_id": p, "price": f"{px:.2f}",
                        "size": f"{rng.uniform(0.001, 2):.8f}", "side": rng.choice(("BUY", "SELL")),
                        "time": format_rfc3339_ns(t - 1000 * rng.randint(1, 900))[:-1] + "Z",
                    }
                ],
            }
            channel = "market_trades"
        seq += 1
        frame = json.dumps(
            {"channel": channel, "timestamp": format_rfc3339_ns(t), "sequence_num": seq, "events": [event]},
            separators=(",", ":"),
        )
        recv_ns = t + rng.randint(200_000, 5_000_000)
        records.append(Record(kind=KIND_FRAME, recv_ns=recv_ns, conn="test-conn-1", iseq=seq, frame=frame))
    return records


def simulated_stream(seconds: float, products: Iterable[str] = ("BTC-USD", "ETH-USD"), seed: int = 7,
                     book_levels: int = 50) -> list[Record]:
    """The frames one connection to the simulated exchange (glue.exchange) receives, as ingest would record them.

    All four channels: level2 snapshot + updates, market_trades, ticker, heartbeats (key `_control`).
    """
    from glue.exchange import simulate_frames

    rng = random.Random(seed)
    records = []
    for i, (ns, text) in enumerate(
        simulate_frames(list(products), seed=seed, start_ns=START_NS, duration_s=seconds, book_levels=book_levels)
    ):
        records.append(Record(kind=KIND_FRAME, recv_ns=ns + rng.randint(100_000, 3_000_000), conn="sim-1",
                              iseq=i, frame=text))
    return records


def produce(bootstrap: str, topic: str, records: Iterable[Record], partitions: int = 6, garbage: int = 0) -> int:
    """Produce records as `glue ingest` does (one message per fanout key); returns messages sent.

    `garbage` extra messages without glue headers are interleaved (they must be dead-lettered).
    """
    from confluent_kafka import Producer

    from glue.config import KafkaSettings
    from glue.kafka import ensure_topics, producer_config

    ks = KafkaSettings(bootstrap_servers=bootstrap)
    ensure_topics(ks, {topic: partitions})
    producer = Producer(producer_config(ks, linger_ms=5))
    sent = 0
    records = list(records)
    every = max(1, len(records) // garbage) if garbage else 0
    for i, record in enumerate(records):
        headers: list[tuple[str, str | bytes | None]] = list(record.kafka_headers(None))
        for key in fanout_keys(record):
            producer.produce(topic, key=key.encode(), value=record.kafka_value(), headers=headers)
            sent += 1
        if every and i % every == every - 1:
            producer.produce(topic, key=b"BTC-USD", value=b"\xff not a glue record {")
            sent += 1
        producer.poll(0)
    assert producer.flush(30) == 0
    return sent


def write_archive(path: Path, records: Iterable[Record]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r.to_archive_line() + "\n" for r in records))
    return path


def read_parquet_dir(directory: Path) -> pa.Table | None:
    """All part files of a featurize Parquet directory as one table sorted by (product_id, second_at)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted(Path(directory).glob("*.parquet"))
    if not parts:
        return None
    table = pa.concat_tables([pq.read_table(p) for p in parts])
    return table.sort_by([("product_id", "ascending"), ("second_at", "ascending")])


def consume_all(bootstrap: str, topic: str, idle_s: float = 15.0) -> list[Message]:
    """Every committed message of a topic from the beginning (read_committed).

    Partitions are assigned directly (no group join). Reads until every partition's position reaches
    the high watermark seen at the start (transaction markers included), or nothing arrives for `idle_s`.
    """
    import time

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from glue.config import KafkaSettings
    from glue.kafka import consumer_config
    from glue.testing.names import unique_name

    consumer = Consumer(consumer_config(KafkaSettings(bootstrap_servers=bootstrap), unique_name("read")))
    numbers = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    partitions = [TopicPartition(topic, p) for p in numbers]
    ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions}
    consumer.assign([TopicPartition(topic, tp.partition, OFFSET_BEGINNING) for tp in partitions])
    out: list[Message] = []
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle_s:
            msgs = consumer.consume(10_000, 0.2)
            out.extend(m for m in msgs if m.error() is None)
            if msgs:
                last = time.monotonic()
            positions = {tp.partition: tp.offset for tp in consumer.position(partitions)}
            if all(end == 0 or positions[p] >= end for p, end in ends.items()):
                break
    finally:
        consumer.close()
    return out


def key_counts(table: pa.Table) -> dict[tuple[str, Any], int]:
    """(product_id, second_at) -> number of rows (more than 1 is a duplicate)."""
    counts: dict[tuple[str, Any], int] = {}
    for p, s in zip(table.column("product_id").to_pylist(), table.column("second_at").to_pylist(), strict=True):
        counts[(p, s)] = counts.get((p, s), 0) + 1
    return counts


REPO_ROOT = Path(__file__).resolve().parents[2]


def settings_for(bootstrap: str, dlq: str, **features: Any) -> Settings:
    """Settings for a test run: this broker, a private DLQ topic, the repo's SQL, feature overrides."""
    import dataclasses

    from glue.config import FeatureSettings, KafkaSettings, Settings

    fs = dataclasses.replace(FeatureSettings(sql_dir=str(REPO_ROOT / "sql")), **features)
    return Settings(kafka=KafkaSettings(bootstrap_servers=bootstrap, topic_dlq=dlq), features=fs)


def job_for(tmp: Path, topic_in: str, topic_out: str, group: str, name: str = "a",
            until_idle_s: float = 2.0) -> FeaturizeJob:
    from glue.featurize import FeaturizeJob

    return FeaturizeJob(
        topic_in=topic_in,
        topic_out=topic_out,
        parquet_dir=tmp / f"features-{name}",
        warehouse=tmp / f"warehouse-{name}.duckdb",
        group_id=group,
        until_idle_s=until_idle_s,
        progress_interval_s=1.0,
    )


def featurize_topic(bootstrap: str, tmp: Path, topic: str,
                    max_batch_frames: int) -> tuple[Settings, FeaturizeJob, FeaturizeStats, pa.Table]:
    """`glue featurize` of `topic` until idle (fresh group, DLQ and output topic): (settings, job, stats, live rows).

    Checks what every end-to-end test needs of the live rows: more than 100, one per (product, second).
    """
    from glue.featurize import run_featurize
    from glue.testing.names import unique_name

    settings = settings_for(bootstrap, dlq=unique_name("dlq"), max_batch_frames=max_batch_frames)
    job = job_for(tmp, topic, unique_name("feat"), unique_name("g"), until_idle_s=3)
    stats = run_featurize(settings, job)
    live = read_parquet_dir(job.parquet_dir)
    assert live is not None and live.num_rows > 100, stats
    assert max(key_counts(live).values()) == 1
    return settings, job, stats, live


def replay_table(records: list[Record], workdir: Path, settings: Settings) -> pa.Table:
    """`glue replay` (glue.replay.replay) of the same records written as an archive, read back from its Parquet."""
    import pyarrow.parquet as pq

    from glue.replay import replay

    archive = write_archive(workdir / "raw" / "2026-01-01" / "test-0001.ndjson", records)
    out = workdir / "features.parquet"
    replay([str(archive)], str(out), settings.features)
    return pq.read_table(out)


def assert_tables_bitwise_equal(live: pa.Table | None, replay: pa.Table | None) -> None:
    """Same columns, types and rows; float columns compared as their 64-bit patterns (NaN == NaN)."""
    import pyarrow as pa

    assert live is not None and replay is not None
    assert live.schema.names == replay.schema.names, (live.schema.names, replay.schema.names)
    assert live.num_rows == replay.num_rows, (live.num_rows, replay.num_rows)
    for name in live.schema.names:
        a, b = live.column(name).combine_chunks(), replay.column(name).combine_chunks()
        assert a.type == b.type, (name, a.type, b.type)
        if pa.types.is_floating(a.type):
            bits_a = a.cast(pa.float64()).view(pa.int64()) if a.null_count == 0 else _bits(a)
            bits_b = b.cast(pa.float64()).view(pa.int64()) if b.null_count == 0 else _bits(b)
            assert bits_a.equals(bits_b), f"column {name} differs in its bits"
        else:
            assert a.equals(b), f"column {name} differs"


def _bits(arr: pa.Array) -> pa.Array:
    import struct

    import pyarrow as pa

    return pa.array([None if v is None else struct.unpack("<q", struct.pack("<d", v))[0] for v in arr.to_pylist()])


def featurize_cmd(bootstrap: str, topic_in: str, topic_out: str, group: str, tmp: Path, name: str,
                  until_idle_s: float) -> list[str]:
    return [
        sys.executable, "-m", "glue", "featurize",
        "--bootstrap", bootstrap, "--topic-in", topic_in, "--topic-out", topic_out, "--group", group,
        "--warehouse", str(tmp / f"warehouse-{name}.duckdb"), "--parquet", str(tmp / f"features-{name}"),
        "--until-idle", str(until_idle_s), "--progress-interval", "1",
    ]


def featurize_env(dlq: str, batch_frames: int) -> dict[str, str]:
    # GLUE_TEST_BOOTSTRAP (the fixture's) would read as an unknown setting in the child.
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("GLUE_TEST")},
        "GLUE_KAFKA__TOPIC_DLQ": dlq,
        "GLUE_FEATURES__MAX_BATCH_FRAMES": str(batch_frames),
        "GLUE_FEATURES__SQL_DIR": str(REPO_ROOT / "sql"),
    }
