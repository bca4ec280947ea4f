"""Benchmark of the Kafka layer: broker start-to-ready, producer rate, `glue check` read rate.

Prints:
* **start to ready** of `docker/local-kafka up` on a fresh home (jars cached), as the script reports it;
* **produce rate**: Record-encoded ticker frames (~450 B) through `glue.kafka.producer_config`
  (idempotent, acks=all, zstd) from one Python thread, until every delivery is acknowledged;
* **check rate**: `glue.check.read_topic` over the same topic (decode + protocol validation), records/s.

Run: `.venv/bin/python -m bench.kafka [--bootstrap HOST:PORT] [--frames N]`
(without --bootstrap it starts a throwaway local broker and stops it after).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from glue.net import free_port  # noqa: E402
from glue.records import KIND_FRAME, Record, format_rfc3339_ns  # noqa: E402
from glue.testing.names import unique_name  # noqa: E402

T0_NS = 1_790_000_000_000_000_000


def _frames(n: int) -> list[tuple[Record, str, int]]:
    out = []
    for seq in range(n):
        product = ("BTC-USD", "ETH-USD", "SOL-USD")[seq % 3]
        price = f"{60000 + (seq % 997) * 0.01:.2f}"
        frame = {
            "channel": "ticker", "timestamp": format_rfc3339_ns(T0_NS + seq * 1_000_000), "sequence_num": seq,
            "events": [{"type": "update", "tickers": [{
                "type": "ticker", "product_id": product, "price": price, "volume_24_h": "2401.16054813",
                "low_24_h": "66770.64", "high_24_h": "67535.2", "low_52_w": "60001", "high_52_w": "126296",
                "price_percent_chg_24_h": "0.54672614199923", "best_bid": price, "best_ask": price,
                "best_bid_quantity": "0.56309243", "best_ask_quantity": "0.25094364"}]}],
        }
        text = json.dumps(frame, separators=(",", ":"))
        out.append((Record(KIND_FRAME, T0_NS + seq, "bench-conn", seq + 1, frame=text), product, seq))
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench.kafka")
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--frames", type=int, default=200_000)
    args = parser.parse_args(argv)

    from confluent_kafka import Producer

    from glue.check import read_topic
    from glue.config import KafkaSettings
    from glue.kafka import DeliveryCounter, ensure_topics, producer_config

    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        home = Path(tmp) / "home"
        bootstrap = args.bootstrap
        script = str(REPO / "docker" / "local-kafka")
        if bootstrap is None:
            port = free_port()
            up = subprocess.run(
                [script, "up", "--home", str(home), "--port", str(port), "--controller-port", str(free_port()),
                 "--timeout", "180", "--python", sys.executable, "--stop-with", str(os.getpid())],
                capture_output=True, text=True, check=False,
            )
            if up.returncode != 0:
                print(up.stderr, file=sys.stderr)
                raise SystemExit("the local broker did not start")
            ready = re.search(r"in ([\d.]+) s", up.stdout)
            print(f"broker start to ready (fresh home, cached jars): {ready.group(1) if ready else '?'} s")
            bootstrap = f"127.0.0.1:{port}"
        try:
            settings = KafkaSettings(bootstrap_servers=bootstrap)
            topic = unique_name("bench-raw")
            ensure_topics(settings, {topic: 6})
            frames = _frames(args.frames)
            counter = DeliveryCounter()
            producer = Producer(producer_config(settings, on_delivery=counter))
            producer.produce(topic, value=b"{}", key=b"warmup")  # producer id handshake outside the timing
            producer.flush(30)
            counter.delivered = 0
            started = time.perf_counter()
            for record, key, seq in frames:
                while True:
                    try:
                        producer.produce(topic, value=record.kafka_value(), key=key.encode(),
                                         headers=record.kafka_headers(seq))
                        break
                    except BufferError:
                        producer.poll(0.05)
                producer.poll(0)
            left = producer.flush(120)
            elapsed = time.perf_counter() - started
            print(f"produce: {counter.delivered} frames acknowledged in {elapsed:.2f} s = "
                  f"{counter.delivered / elapsed:,.0f} frames/s ({left} left, {counter.failed} failed)")

            started = time.perf_counter()
            report = read_topic(settings, topic)
            elapsed = time.perf_counter() - started
            print(f"check: {report.records} records read and validated in {elapsed:.2f} s = "
                  f"{report.records / elapsed:,.0f} records/s ({report.valid} valid, "
                  f"{report.seq_missing} missing seq)")
        finally:
            if args.bootstrap is None:
                subprocess.run([script, "down", "--home", str(home)], capture_output=True, check=False)


if __name__ == "__main__":
    main(sys.argv[1:])
